//! Helpers shared by the integration tests.
#![allow(dead_code)]

use hub_sims::{RunningSim, SimOptions};
use std::net::SocketAddr;

/// Port 0 on loopback.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Default options without the rate limit, so that tests can send requests freely.
pub fn unlimited() -> SimOptions {
    SimOptions {
        rate_limit: None,
        ..SimOptions::default()
    }
}

/// A client that never goes through a proxy (the sims are on loopback).
pub fn client() -> reqwest::Client {
    // The workspace builds reqwest with `rustls-no-provider`; plain HTTP still needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

pub async fn hy(opts: &SimOptions) -> RunningSim {
    hub_sims::start_hy_esms(any_port(), opts)
        .await
        .expect("HY-ESMS starts")
}

pub async fn zf(opts: &SimOptions) -> RunningSim {
    hub_sims::start_zf_reg(any_port(), opts)
        .await
        .expect("ZF-REG starts")
}

/// Logs in to ZF-REG with the default credentials and returns the token.
pub async fn zf_login(c: &reqwest::Client, sim: &RunningSim) -> String {
    let body: serde_json::Value = c
        .post(format!("{}/login", sim.url()))
        .form(&[("username", "hub-sync"), ("password", "demo-zf-password")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], 0, "{body}");
    body["data"]["token"].as_str().unwrap().to_string()
}

/// GETs JSON.
pub async fn get_json(c: &reqwest::Client, url: String) -> serde_json::Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

pub async fn med(opts: &SimOptions) -> RunningSim {
    hub_sims::start_med_roster(any_port(), opts)
        .await
        .expect("MED-ROSTER starts")
}
