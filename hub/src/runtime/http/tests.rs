//! Tests of the HTTP capability: origins, the request policy, secrets filled and scrubbed,
//! the retry budget.

use super::*;

#[test]
fn origins_compare_scheme_host_and_default_port() {
    assert_eq!(
        Origin::parse("http://Example.org").unwrap(),
        Origin::parse("http://example.org:80/").unwrap()
    );
    assert_ne!(
        Origin::parse("http://example.org").unwrap(),
        Origin::parse("https://example.org").unwrap()
    );
    assert_eq!(
        Origin::parse("https://example.org").unwrap().to_string(),
        "https://example.org:443"
    );
    assert!(Origin::parse("http://example.org/api").is_err());
    assert!(Origin::parse("ftp://example.org").is_err());
    assert!(Origin::parse("example.org").is_err());
}

fn grant(origins: &[&str]) -> HttpGrant {
    let _ = rustls::crypto::ring::default_provider().install_default();
    HttpGrant {
        plugin: "p".into(),
        origins: origins.iter().map(|o| Origin::parse(o).unwrap()).collect(),
        secrets: BTreeMap::from([("k".to_string(), "v".to_string())]),
        client: reqwest::Client::new(),
        timeout: Duration::from_secs(2),
        max_response: 1024,
        tape: None,
        budget: None,
    }
}

fn budget() -> RetryBudget {
    RetryBudget::new(100)
}

#[test]
fn a_retry_budget_gives_exactly_its_retries() {
    let b = RetryBudget::new(3);
    assert_eq!(
        [b.take(), b.take(), b.take(), b.take()],
        [true, true, true, false]
    );
    assert_eq!(b.used(), 3);
}

fn req(url: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: "GET".into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Vec::new(),
    }
}

#[tokio::test]
async fn requests_to_origins_not_granted_are_refused_before_any_connection() {
    // Port 9 (discard) on loopback: nothing is listening, so only the refusal can answer.
    let g = grant(&["http://127.0.0.1:9"]);
    let e = g
        .send(req("http://127.0.0.1:10/x", &[]), &budget())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        HttpError::Denied("origin http://127.0.0.1:10 is not granted to plugin p".into())
    );
    let e = g
        .send(req("https://127.0.0.1:9/x", &[]), &budget())
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Denied(_)), "{e:?}");
    let e = g
        .send(req("file:///etc/passwd", &[]), &budget())
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Invalid(_)), "{e:?}");
}

#[tokio::test]
async fn a_secret_not_granted_is_refused_and_never_sent() {
    let g = grant(&["http://127.0.0.1:9"]);
    let e = g
        .send(
            req(
                "http://127.0.0.1:9/x",
                &[("authorization", "Bearer {{secret:token}}")],
            ),
            &budget(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e,
        HttpError::Denied("secret \"token\" is not granted to plugin p".into())
    );
}

#[test]
fn secrets_are_scrubbed_from_responses_even_across_chunks() {
    let secrets = BTreeMap::from([
        ("password".to_string(), "p&ss word".to_string()),
        ("k".to_string(), "abc".to_string()),
    ]);
    let s = Scrubber::new(&secrets);
    assert_eq!(
        s.all(b"echo: p&ss word and p%26ss+word, abc"),
        b"echo: {{secret:password}} and {{secret:password}}, abc".to_vec()
    );
    // Split at every position: the output joined is the same scrubbed text.
    let text = b"x=p&ss word;y=p&ss word.".to_vec();
    for cut in 0..=text.len() {
        let mut s = Scrubber::new(&secrets);
        let mut out = s.chunk(&text[..cut]);
        out.extend(s.chunk(&text[cut..]));
        out.extend(s.finish());
        assert_eq!(
            out,
            b"x={{secret:password}};y={{secret:password}}.".to_vec(),
            "cut at {cut}"
        );
    }
}

#[test]
fn secrets_are_scrubbed_in_every_escape_mixed_and_across_chunks() {
    // A secret with a slash, a percent sign, a space and Han characters (密 is U+5BC6,
    // UTF-8 E5 AF 86; 𝒳 is U+1D4B3, UTF-16 D835 DCB3).
    let secrets = BTreeMap::from([("k".to_string(), "a/%b 密𝒳".to_string())]);
    let p = "{{secret:k}}";
    for echoed in [
        "a/%b 密𝒳".to_string(),
        "a%2F%25b%20%E5%AF%86%F0%9D%92%B3".to_string(),
        "a%2f%25b+%e5%af%86%f0%9d%92%b3".to_string(),
        "a\\/%b \\u5bc6\\uD835\\uDCB3".to_string(),
        "&#97;&#x2F;&#37;b&#32;&#x5BC6;&#119987;".to_string(),
        "a\\/%25b+\\u5BC6&#x1d4b3;".to_string(),
        hex::encode("a/%b 密𝒳"),
        hex::encode_upper("a/%b 密𝒳"),
    ] {
        let text = format!("[{echoed}]");
        assert_eq!(
            Scrubber::new(&secrets).all(text.as_bytes()),
            format!("[{p}]").into_bytes(),
            "{echoed}"
        );
        for cut in 0..=text.len() {
            let mut s = Scrubber::new(&secrets);
            let mut out = s.chunk(&text.as_bytes()[..cut]);
            out.extend(s.chunk(&text.as_bytes()[cut..]));
            out.extend(s.finish());
            assert_eq!(out, format!("[{p}]").into_bytes(), "{echoed} cut at {cut}");
        }
    }
    // Text that only begins like the secret is handed on whole.
    assert_eq!(
        Scrubber::new(&secrets).all(b"a/%b and a%2F%25"),
        b"a/%b and a%2F%25".to_vec()
    );
}

#[test]
fn a_secret_that_begins_another_never_lets_the_longer_ones_tail_out() {
    let secrets = BTreeMap::from([
        ("short".to_string(), "abcd1234".to_string()),
        ("long".to_string(), "abcd1234XYZW-tail".to_string()),
    ]);
    let text = b"[abcd1234XYZW-tail] [abcd1234]";
    for cut in 0..=text.len() {
        let mut s = Scrubber::new(&secrets);
        let mut out = s.chunk(&text[..cut]);
        out.extend(s.chunk(&text[cut..]));
        out.extend(s.finish());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{{secret:long}}] [{{secret:short}}]",
            "cut at {cut}"
        );
    }
}

#[test]
fn a_stream_holds_back_the_same_bytes_whether_or_not_they_begin_a_secret() {
    // 20 bytes of secret: its longest form (each character as `\u00XX`) spans 120 bytes,
    // so the stream holds back 1 KiB.
    let secrets = BTreeMap::from([("k".to_string(), "abcdefghij0123456789".to_string())]);
    assert_eq!(Scrubber::new(&secrets).window(), 1024);
    let handed = |tail: &[u8]| {
        let mut s = Scrubber::new(&secrets);
        let mut data = vec![b'z'; 2000];
        data.extend_from_slice(tail);
        s.chunk(&data).len()
    };
    // "ab" and "%61b" begin the secret; "xy" and "%78y" do not: the same is handed out.
    assert_eq!(handed(b"ab"), 2002 - 1024);
    assert_eq!(handed(b"xy"), 2002 - 1024);
    assert_eq!(handed(b"%61b"), handed(b"%78y"));
}

#[test]
fn a_secret_echoed_in_another_case_is_scrubbed() {
    let secrets = BTreeMap::from([("k".to_string(), "Zf/Pa+ss w0rd=!x".to_string())]);
    assert_eq!(
        Scrubber::new(&secrets).all(b"ZF/PA+SS W0RD=!X and zf%2fpa%2Bss+w0rd%3d!x"),
        b"{{secret:k}} and {{secret:k}}".to_vec()
    );
}

#[test]
fn a_secret_in_base64_is_scrubbed_at_each_alignment_and_in_both_alphabets() {
    use base64::Engine as _;
    let secrets = BTreeMap::from([("pw".to_string(), "p?ss>w0rd~~".to_string())]);
    for lead in ["", "u", "us", "user:"] {
        let std = base64::engine::general_purpose::STANDARD.encode(format!("{lead}p?ss>w0rd~~"));
        let url = base64::engine::general_purpose::URL_SAFE.encode(format!("{lead}p?ss>w0rd~~"));
        for encoded in [std, url] {
            let out = String::from_utf8(Scrubber::new(&secrets).all(encoded.as_bytes())).unwrap();
            // What is left: at most 3 characters of the lead's bits before the
            // placeholder, and the last character (mixed with the padding) and `=`s after.
            let (before, after) = out.split_once("{{secret:pw}}").expect(&out);
            assert!(before.len() <= 7 && after.len() <= 3, "{encoded} → {out}");
        }
    }
}

#[test]
fn host_connection_framing_and_coding_headers_are_the_hosts() {
    for h in [
        "Host",
        "connection",
        "Keep-Alive",
        "upgrade",
        "TE",
        "trailer",
        "proxy-authorization",
        "Proxy-Connection",
        "content-length",
        "transfer-encoding",
        "expect",
        "accept-encoding",
        "range",
        "if-range",
        "content-encoding",
        "forwarded",
        "Via",
        "x-forwarded-host",
        "X-Forwarded-For",
        "x-http-method-override",
        "x-original-url",
    ] {
        assert!(refused_header(h), "{h}");
    }
    for h in [
        "authorization",
        "accept",
        "content-type",
        "if-match",
        "if-unmodified-since",
        "if-none-exist",
        "x-api-key",
        "hostname",
    ] {
        assert!(!refused_header(h), "{h}");
    }
}

#[test]
fn secrets_are_filled_raw_or_form_encoded_and_unknown_ones_refused() {
    let secrets = BTreeMap::from([("password".to_string(), "p&ss word".to_string())]);
    assert_eq!(
        fill_secrets(b"pw={{secret:password}}", &secrets).unwrap(),
        b"pw=p&ss word"
    );
    assert_eq!(
        fill_secrets(b"a=1&pw={{secret:password|form}}&b=2", &secrets).unwrap(),
        b"a=1&pw=p%26ss+word&b=2"
    );
    assert_eq!(
        fill_secrets(b"{{secret:token}}", &secrets).unwrap_err(),
        "token"
    );
    assert_eq!(
        fill_secrets(b"no placeholders {{x}}", &secrets).unwrap(),
        b"no placeholders {{x}}"
    );
}
