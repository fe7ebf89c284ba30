//! A gateway hosting the example's generated services on a free port.

#![allow(dead_code, unreachable_pub)]

pub mod gsoap;

use ithaca_gateway::config::Config;
use ithaca_gateway::{Gateway, RunningGateway};

/// A running gateway and its data directory (removed on drop).
pub struct Served {
    pub gateway: Option<RunningGateway>,
    pub data: std::path::PathBuf,
}

impl Served {
    pub async fn start() -> Self {
        let data = std::env::temp_dir().join(format!(
            "ithaca-soap-codegen-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.storage.data_dir = data.clone();
        let routes = ithaca_soap_codegen_example::routes().unwrap();
        let gateway = Gateway::new(config).routes(&routes).start().await.unwrap();
        Self {
            gateway: Some(gateway),
            data,
        }
    }

    /// Runs the python `script` (in the interop venv) against this gateway
    /// (`ITHACA_BASE` names it), asserts that `client`'s run succeeded, and
    /// returns its stdout and stderr.
    pub async fn run_python(&self, client: &str, script: &str) -> (String, String) {
        let python = ithaca_testkit::interop::python().unwrap_or_else(|e| panic!("{e}"));
        let output = tokio::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .env("ITHACA_BASE", self.base())
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "{client} failed:\n{stdout}\n{stderr}"
        );
        (stdout, stderr)
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.gateway.as_ref().unwrap().server_addr())
    }

    pub async fn stop(mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown().await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
