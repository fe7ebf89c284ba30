use http_body_util::BodyExt;

use super::*;
use crate::body::full;

async fn get(router: &Router, uri: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = http::Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router.dispatch(request.body(full("")).unwrap()).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn app() -> Router {
    let membership_like = Router::new().admin_route("/membership/view", "view", |_r| async {
        text_response(StatusCode::OK, "{}")
    });
    crate::soap::builtin::services()
        .unwrap()
        .merge(&membership_like)
        .route("/plain", "plain", |_r| async {
            text_response(StatusCode::OK, "")
        })
}

#[tokio::test]
async fn serves_the_page_its_script_and_style_sheet() {
    let page = OperatorPage::new(&Config::default(), &app());
    let routes = page.routes();
    let (status, content_type, body) = get(&routes, "/ui/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(body.contains("<script src=\"app.js\""));
    let (status, content_type, body) = get(&routes, "/ui/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/javascript"));
    assert!(
        !body.contains("innerHTML"),
        "data goes into the DOM as text"
    );
    let (_, content_type, _) = get(&routes, "/ui/style.css", None).await;
    assert!(content_type.starts_with("text/css"));
    let response = routes
        .dispatch(http::Request::get("/ui").body(full("")).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()[header::LOCATION], "/ui/");
    let post = routes
        .dispatch(http::Request::post("/ui/").body(full("")).unwrap())
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn lists_hosted_services_with_relative_wsdl_links_on_a_shared_listener() {
    let routes = OperatorPage::new(&Config::default(), &app()).routes();
    let (status, content_type, body) = get(&routes, "/admin/services", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    let services = listing["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{body}");
    assert_eq!(services[0]["name"], "EchoService");
    let ports = services[0]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "SOAP 1.1 and 1.2 ports: {body}");
    assert_eq!(ports[0]["path"], "/services/EchoService");
    assert_eq!(ports[0]["wsdl"], "/services/EchoService?wsdl");
    assert_eq!(ports[1]["path"], "/services/EchoService/soap12");
}

#[tokio::test]
async fn links_name_the_server_listener_when_the_admin_listener_is_separate() {
    let mut config = Config::default();
    config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    let page = OperatorPage::new(&config, &app());
    page.set_server_url("http://127.0.0.1:8080/");
    let (_, _, body) = get(&page.routes(), "/admin/services", None).await;
    assert!(
        body.contains("\"wsdl\":\"http://127.0.0.1:8080/services/EchoService?wsdl\""),
        "{body}"
    );
    config.server.public_url = Some("https://soap.example.com/".into());
    let page = OperatorPage::new(&config, &app());
    let (_, _, body) = get(&page.routes(), "/admin/services", None).await;
    assert!(
        body.contains("\"wsdl\":\"https://soap.example.com/services/EchoService?wsdl\""),
        "{body}"
    );
}

#[tokio::test]
async fn carries_the_applications_admin_routes_and_the_settings() {
    let mut config = Config::default();
    config.membership.lease_ms = 1_000;
    let routes = OperatorPage::new(&config, &app()).routes();
    assert!(routes.lookup("/membership/view").is_some());
    assert!(
        routes.lookup("/plain").is_none(),
        "only admin routes come along"
    );
    assert!(routes.lookup("/services/EchoService").is_none());
    let (status, _, body) = get(&routes, "/ui/settings.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let settings: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(settings["membership"]["lease_ms"], 1_000);
    assert_eq!(settings["corba_objects"], serde_json::json!([]));
}

#[tokio::test]
async fn json_needs_the_admin_token_and_the_page_does_not() {
    let token = "0123456789abcdef";
    let routes = OperatorPage::new(&Config::default(), &app())
        .routes()
        .require_admin_token(Some(token.into()));
    assert_eq!(get(&routes, "/ui/", None).await.0, StatusCode::OK);
    assert_eq!(get(&routes, "/ui/app.js", None).await.0, StatusCode::OK);
    assert_eq!(
        get(&routes, "/admin/services", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&routes, "/ui/settings.json", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&routes, "/admin/services", Some(token)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_contract_mounted_twice_is_two_services() {
    use ithaca_services::echo;
    let second = crate::soap::SoapService::builder(
        crate::soap::Contract::from_bytes(echo::WSDL_NAME, echo::WSDL).unwrap(),
    )
    .service(echo::SERVICE)
    .base_path("/services/EchoTwo")
    .build()
    .unwrap();
    let routes = OperatorPage::new(&Config::default(), &app().merge(&second)).routes();
    let (_, _, body) = get(&routes, "/admin/services", None).await;
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mounts: Vec<(&str, &str, usize)> = listing["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["path"].as_str().unwrap(),
                s["ports"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("EchoService", "/services/EchoService", 2),
            ("EchoService", "/services/EchoTwo", 2)
        ]
    );
}
