//! A connection wrapper that closes connections whose writes stall (a client
//! that stops reading its response would otherwise hold the connection and
//! its buffers forever) and connections that never send a first byte (the
//! HTTP version sniffing that precedes hyper's own header timeout has no
//! deadline).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pin_project! {
    /// Fails a write that has made no progress for `timeout`, and a read that
    /// waits longer than `first_byte_timeout` for the connection's first byte.
    #[derive(Debug)]
    pub struct StallGuard<T> {
        #[pin]
        inner: T,
        timeout: Duration,
        deadline: Pin<Box<Sleep>>,
        armed: bool,
        first_byte: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> StallGuard<T> {
    /// Wraps `inner`: writes may stall for `write_timeout`, the first byte
    /// may take `first_byte_timeout` to arrive.
    pub fn new(inner: T, write_timeout: Duration, first_byte_timeout: Duration) -> Self {
        Self {
            inner,
            timeout: write_timeout,
            deadline: Box::pin(tokio::time::sleep(write_timeout)),
            armed: false,
            first_byte: Some(Box::pin(tokio::time::sleep(first_byte_timeout))),
        }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// Called when a write is pending: starts the clock on the first pending
/// poll and fails once it runs out.
fn stalled<R>(
    armed: &mut bool,
    deadline: &mut Pin<Box<Sleep>>,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Result<R>> {
    if !*armed {
        deadline.as_mut().reset(Instant::now() + timeout);
        *armed = true;
    }
    match deadline.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading (server.write_stall_timeout)",
        ))),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: AsyncRead> AsyncRead for StallGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if let Some(first_byte) = this.first_byte {
            match &result {
                Poll::Ready(Ok(())) if buf.filled().len() > before => *this.first_byte = None,
                Poll::Pending if first_byte.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing (server.header_read_timeout)",
                    )));
                }
                _ => {}
            }
        }
        result
    }
}

impl<T: AsyncWrite> AsyncWrite for StallGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        match this.inner.poll_write(cx, buf) {
            Poll::Pending => stalled(this.armed, this.deadline, *this.timeout, cx),
            ready => {
                *this.armed = false;
                ready
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        match this.inner.poll_write_vectored(cx, bufs) {
            Poll::Pending => stalled(this.armed, this.deadline, *this.timeout, cx),
            ready => {
                *this.armed = false;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        match this.inner.poll_flush(cx) {
            Poll::Pending => stalled(this.armed, this.deadline, *this.timeout, cx),
            ready => {
                *this.armed = false;
                ready
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        match this.inner.poll_shutdown(cx) {
            Poll::Pending => stalled(this.armed, this.deadline, *this.timeout, cx),
            ready => {
                *this.armed = false;
                ready
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_after_the_timeout() {
        // A duplex pipe with a tiny buffer and no reader: writes block.
        let (client, _server) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(client, Duration::from_secs(5), Duration::from_secs(5));
        let error = guarded.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_is_fine() {
        let (client, mut server) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(client, Duration::from_secs(5), Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            let mut buf = [0u8; 16];
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match tokio::io::AsyncReadExt::read(&mut server, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.extend_from_slice(&buf[..n]),
                }
            }
            sink.len()
        });
        guarded.write_all(&[7u8; 256]).await.unwrap();
        guarded.shutdown().await.unwrap();
        drop(guarded);
        assert_eq!(reader.await.unwrap(), 256);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_but_a_talking_one_does_not() {
        use tokio::io::AsyncReadExt;
        let (client, _server) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(client, Duration::from_secs(5), Duration::from_secs(1));
        let mut buf = [0u8; 4];
        let error = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);

        let (client, mut server) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(client, Duration::from_secs(5), Duration::from_secs(1));
        server.write_all(b"x").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 1);
        // After the first byte, waiting is hyper's business (keep-alive).
        let wait = tokio::time::timeout(Duration::from_secs(60), guarded.read(&mut buf)).await;
        assert!(wait.is_err(), "later reads have no first-byte deadline");
    }
}
