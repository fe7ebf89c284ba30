//! Dispatch by request path to a named route.
//!
//! Route names, not paths, label metrics and logs, so a client cannot create
//! unbounded label values by requesting made-up paths.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::StatusCode;

use crate::body::{Request, Response, text_response};

/// A boxed response future.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A request handler: any async function from request to response.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: Request) -> ResponseFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, request: Request) -> ResponseFuture {
        Box::pin(self(request))
    }
}

/// The name under which an unmatched path is counted.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One path and what serves it.
#[derive(Clone)]
pub struct Route {
    /// A short, fixed name for metrics and logs (`healthz`, `echo`).
    pub name: &'static str,
    /// Whether this is an admin endpoint (bearer token rules apply).
    pub admin: bool,
    /// Whether this admin endpoint changes state: it then needs a
    /// configured token, always (see [`Router::admin_change_route`]).
    pub changes_state: bool,
    handler: Arc<dyn Handler>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("changes_state", &self.changes_state)
            .finish_non_exhaustive()
    }
}

/// The route a request matched, stored in its extensions for the layers
/// around the router.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RouteName(pub &'static str);

/// Maps exact paths to routes. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Router {
    routes: Arc<HashMap<String, Route>>,
    admin_token: Option<Arc<str>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an application route at `path`.
    pub fn route(self, path: &str, name: &'static str, handler: impl Handler) -> Self {
        self.insert(path, name, (false, false), Arc::new(handler))
    }

    /// Adds an admin route at `path`.
    pub fn admin_route(self, path: &str, name: &'static str, handler: impl Handler) -> Self {
        self.insert(path, name, (true, false), Arc::new(handler))
    }

    /// Adds an admin route at `path` that changes state. Unlike the
    /// read-only admin routes, which are open when no token is configured,
    /// it answers 403 unless a token is configured and the request
    /// carries it.
    pub fn admin_change_route(self, path: &str, name: &'static str, handler: impl Handler) -> Self {
        self.insert(path, name, (true, true), Arc::new(handler))
    }

    /// Requires `Authorization: Bearer TOKEN` on admin routes.
    pub fn require_admin_token(mut self, token: Option<Arc<str>>) -> Self {
        self.admin_token = token;
        self
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: &Self) -> Self {
        let routes = Arc::make_mut(&mut self.routes);
        for (path, route) in other.routes.iter() {
            routes.insert(path.clone(), route.clone());
        }
        self
    }

    /// Keeps only admin routes (`admin == true`) or only the others.
    pub fn filter(&self, admin: bool) -> Self {
        Self {
            routes: Arc::new(
                self.routes
                    .iter()
                    .filter(|(_, r)| r.admin == admin)
                    .map(|(p, r)| (p.clone(), r.clone()))
                    .collect(),
            ),
            admin_token: self.admin_token.clone(),
        }
    }

    fn insert(
        mut self,
        path: &str,
        name: &'static str,
        (admin, changes_state): (bool, bool),
        handler: Arc<dyn Handler>,
    ) -> Self {
        Arc::make_mut(&mut self.routes).insert(
            path.to_owned(),
            Route {
                name,
                admin,
                changes_state,
                handler,
            },
        );
        self
    }

    /// The route for `path`, if any.
    pub fn lookup(&self, path: &str) -> Option<&Route> {
        self.routes.get(path)
    }

    /// The name of the route for `path`, or [`UNMATCHED_ROUTE`].
    pub fn route_name(&self, path: &str) -> &'static str {
        self.lookup(path).map_or(UNMATCHED_ROUTE, |r| r.name)
    }

    /// Every route with its path, in no particular order (the operator
    /// page lists the hosted SOAP ports from it).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Route)> {
        self.routes
            .iter()
            .map(|(path, route)| (path.as_str(), route))
    }

    fn authorized(&self, request: &Request) -> bool {
        let Some(token) = &self.admin_token else {
            return true;
        };
        let Some(given) = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), token.as_bytes())
    }

    /// Dispatches one request.
    pub fn dispatch(&self, request: Request) -> ResponseFuture {
        self.dispatch_to(self.lookup(request.uri().path()), request)
    }

    /// Dispatches one request to `route`, which [`Router::lookup`] found
    /// for its path (`None`: 404).
    pub fn dispatch_to(&self, route: Option<&Route>, request: Request) -> ResponseFuture {
        let Some(route) = route else {
            return Box::pin(async { text_response(StatusCode::NOT_FOUND, "no such endpoint\n") });
        };
        if route.changes_state {
            let refusal = if self.admin_token.is_none() {
                Some(
                    "this admin endpoint changes state and is disabled: no admin token is \
                     configured (set admin.token or admin.token_file)\n",
                )
            } else if !self.authorized(&request) {
                Some(
                    "this admin endpoint changes state: send the configured admin token \
                     (Authorization: Bearer TOKEN)\n",
                )
            } else {
                None
            };
            if let Some(refusal) = refusal {
                return Box::pin(async move { text_response(StatusCode::FORBIDDEN, refusal) });
            }
        }
        if route.admin && !self.authorized(&request) {
            return Box::pin(async {
                let mut response =
                    text_response(StatusCode::UNAUTHORIZED, "admin token required\n");
                response.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
                response
            });
        }
        route.handler.call(request)
    }
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl tower::Service<Request> for Router {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let response = self.dispatch(request);
        Box::pin(async move { Ok(response.await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;

    fn get(path: &str, auth: Option<&str>) -> Request {
        let mut builder = http::Request::get(path);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        builder.body(full("")).unwrap()
    }

    fn router() -> Router {
        Router::new()
            .route("/app", "app", |_req| async {
                text_response(StatusCode::OK, "app")
            })
            .admin_route("/admin", "admin", |_req| async {
                text_response(StatusCode::OK, "admin")
            })
    }

    #[tokio::test]
    async fn dispatches_by_exact_path() {
        let r = router();
        assert_eq!(r.dispatch(get("/app", None)).await.status(), StatusCode::OK);
        assert_eq!(
            r.dispatch(get("/app/", None)).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(r.route_name("/nope"), UNMATCHED_ROUTE);
        assert_eq!(r.route_name("/admin"), "admin");
    }

    #[tokio::test]
    async fn admin_routes_need_the_token_when_one_is_set() {
        let r = router().require_admin_token(Some("0123456789abcdef".into()));
        assert_eq!(r.dispatch(get("/app", None)).await.status(), StatusCode::OK);
        assert_eq!(
            r.dispatch(get("/admin", None)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            r.dispatch(get("/admin", Some("Bearer wrong")))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            r.dispatch(get("/admin", Some("Bearer 0123456789abcdef")))
                .await
                .status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn state_changing_admin_routes_need_a_configured_token() {
        let r = router().admin_change_route("/admin/change", "change", |_req| async {
            text_response(StatusCode::OK, "changed")
        });
        // No token configured: refused, though read-only routes are open.
        assert_eq!(
            r.dispatch(get("/admin", None)).await.status(),
            StatusCode::OK
        );
        let refused = r.dispatch(get("/admin/change", Some("Bearer x"))).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let r = r.require_admin_token(Some("0123456789abcdef".into()));
        for auth in [None, Some("Bearer wrong"), Some("0123456789abcdef")] {
            assert_eq!(
                r.dispatch(get("/admin/change", auth)).await.status(),
                StatusCode::FORBIDDEN,
                "{auth:?}"
            );
        }
        assert_eq!(
            r.dispatch(get("/admin/change", Some("Bearer 0123456789abcdef")))
                .await
                .status(),
            StatusCode::OK
        );
        // The flag survives merging and filtering.
        let merged = Router::new().merge(&r).filter(true);
        assert!(merged.lookup("/admin/change").unwrap().changes_state);
    }

    #[test]
    fn filter_splits_admin_from_app_routes() {
        let r = router();
        assert!(r.filter(true).lookup("/admin").is_some());
        assert!(r.filter(true).lookup("/app").is_none());
        assert!(r.filter(false).lookup("/app").is_some());
    }
}
