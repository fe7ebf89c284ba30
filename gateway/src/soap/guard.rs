//! Keeps a panicking handler from costing the client its response: the
//! panic is caught and answered as a Server / Receiver fault, so every
//! request still gets exactly one response.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::handler::{OperationHandler, SoapError, SoapRequest, SoapResponse};

/// Calls `handler` through [`OperationHandler::respond`] and runs its
/// future, turning a panic in either into [`SoapError::Receiver`].
pub(crate) async fn respond(
    handler: &dyn OperationHandler,
    request: SoapRequest,
) -> Result<SoapResponse, SoapError> {
    let Ok(future) = catch_unwind(AssertUnwindSafe(|| handler.respond(request))) else {
        return Err(panicked());
    };
    CatchUnwind(future).await
}

fn panicked() -> SoapError {
    tracing::error!("a SOAP operation handler panicked");
    SoapError::receiver("internal error in the service")
}

/// A boxed handler future whose panics become [`SoapError::Receiver`].
struct CatchUnwind<T>(Pin<Box<dyn Future<Output = Result<T, SoapError>> + Send>>);

impl<T> Future for CatchUnwind<T> {
    type Output = Result<T, SoapError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.get_mut().0;
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(Err(panicked())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SoapRequest {
        let message = bytes::Bytes::from_static(
            br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#,
        );
        let (envelope, _) = ithaca_wsdl::read_envelope_ranges_validating(
            &message,
            None,
            &ithaca_wsdl::Limits::default(),
            |_| None,
        )
        .unwrap();
        SoapRequest {
            message,
            envelope,
            full: std::sync::OnceLock::new(),
            operation: "op".into(),
            action: None,
            headers: http::HeaderMap::new(),
        }
    }

    use crate::soap::handler::HandlerFuture;

    async fn call(
        handler: &dyn OperationHandler,
        request: SoapRequest,
    ) -> Result<Vec<u8>, SoapError> {
        respond(handler, request)
            .await
            .map(|response| response.body)
    }

    #[tokio::test]
    async fn panics_become_receiver_faults() {
        let in_future = |_request: SoapRequest| async move {
            if true {
                panic!("boom");
            }
            Ok(Vec::new())
        };
        assert_eq!(
            call(&in_future, request()).await,
            Err(SoapError::receiver("internal error in the service"))
        );
        fn sync_part(_request: SoapRequest) -> HandlerFuture {
            panic!("before the future");
        }
        struct Sync;
        impl OperationHandler for Sync {
            fn call(&self, request: SoapRequest) -> HandlerFuture {
                sync_part(request)
            }
        }
        assert!(call(&Sync, request()).await.is_err());
        let fine = |_request: SoapRequest| async move { Ok(b"<ok/>".to_vec()) };
        assert_eq!(call(&fine, request()).await, Ok(b"<ok/>".to_vec()));
    }
}
