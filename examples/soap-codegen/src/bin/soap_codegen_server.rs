//! Hosts the example's generated services on a gateway:
//! `soap_codegen_server [ADDR]` (default `127.0.0.1:8080`) serves
//! `/services/EchoService` and `/services/OrderService` (with `?wsdl`)
//! until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use ithaca_gateway::Gateway;
use ithaca_gateway::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let mut config = Config::default();
    config.server.listen = listen.parse().context("ADDR must be host:port")?;
    config.storage.data_dir =
        std::env::temp_dir().join(format!("soap-codegen-{}", std::process::id()));
    let routes = ithaca_soap_codegen_example::routes()?;
    let gateway = Gateway::new(config).routes(&routes).start().await?;
    println!(
        "serving on http://{}/services/EchoService",
        gateway.server_addr()
    );
    tokio::signal::ctrl_c().await?;
    gateway.shutdown().await;
    Ok(())
}
