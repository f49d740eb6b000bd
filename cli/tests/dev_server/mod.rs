//! `tollgate dev` as a child process on a free loopback port, for the tests that drive it over
//! HTTP (the binary itself, schemathesis, the JS client, the browser); killed when dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

pub struct DevServer {
    child: Child,
    pub url: String,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process's stdout and stderr, for a failure message.
pub fn output_text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The workspace's root (where `make test` runs).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool of the project's Python venv (`VENV`, else `.venv`), which `make test` installs.
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var("VENV").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(".venv"));
    let venv = if venv.is_absolute() { venv } else { root().join(venv) };
    let tool = venv.join("bin").join(name);
    assert!(tool.exists(), "{} is missing: `make test` installs it (make venv)", tool.display());
    tool
}

/// The dev server on its defaults (memory store, simulated Stripe, codes in the answers), with
/// `env` added.
pub async fn start(env: &[(&str, &str)]) -> DevServer {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .args(["dev", "--port", &port.to_string()])
        .env("DEBUG_AUTH_CODES", "1")
        .env_remove("TABLE_NAME")
        .env_remove("STRIPE_SECRET_KEY")
        .env_remove("TOLLGATE_ENV")
        .env_remove("ADMIN_EMAILS")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let server = DevServer { child: command.spawn().unwrap(), url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if reqwest::get(format!("{}/healthz", server.url)).await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the dev server did not start");
}

async fn post(url: &str, body: Value) -> Value {
    reqwest::Client::new().post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

/// Signs `email` in through the API (the dev server answers the code): its access token.
pub async fn sign_in(url: &str, email: &str) -> String {
    let sent = post(&format!("{url}/api/auth/request-code"), json!({ "email": email })).await;
    let code = sent["debug_code"].as_str().expect("the dev server answers the code");
    let signed = post(&format!("{url}/api/auth/verify-code"), json!({ "email": email, "code": code })).await;
    signed["token"].as_str().unwrap().to_string()
}
