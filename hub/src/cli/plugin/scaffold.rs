//! `hub plugin new NAME`: scaffolds a connector crate that builds for `wasm32-wasip2` and
//! passes its own tests (unit tests, and `hub plugin test` on recorded exchanges) as made.
//!
//! The crate depends on the SDK (`plugins/sdk` of a hub repository checkout) by path: the
//! checkout holding the current directory, or the one given with `--sdk`, or the one this hub
//! was built from. It is a workspace of its own (an empty `[workspace]` table), so it builds
//! anywhere, inside the repository too; the checkout's `Cargo.lock` is copied beside it so that
//! it resolves the same dependency versions as the hub's own connectors.

use anyhow::{Context as _, bail};
use std::path::{Component, Path, PathBuf};

/// The template's files: path in the new crate, contents with `{{name}}`, `{{crate}}` and
/// `{{sdk}}` to fill in.
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../templates/connector/Cargo.toml"),
    ),
    (
        "README.md",
        include_str!("../../../templates/connector/README.md"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../templates/connector/src/lib.rs"),
    ),
    (
        "fixtures/harness.toml",
        include_str!("../../../templates/connector/fixtures/harness.toml"),
    ),
    (
        "fixtures/read-workers.json",
        include_str!("../../../templates/connector/fixtures/read-workers.json"),
    ),
    (
        "fixtures/write-workers.json",
        include_str!("../../../templates/connector/fixtures/write-workers.json"),
    ),
    (
        "fixtures/001-check.request.http",
        include_str!("../../../templates/connector/fixtures/001-check.request.http"),
    ),
    (
        "fixtures/001-check.response.http",
        include_str!("../../../templates/connector/fixtures/001-check.response.http"),
    ),
    (
        "fixtures/002-read-page-1.request.http",
        include_str!("../../../templates/connector/fixtures/002-read-page-1.request.http"),
    ),
    (
        "fixtures/002-read-page-1.response.http",
        include_str!("../../../templates/connector/fixtures/002-read-page-1.response.http"),
    ),
    (
        "fixtures/003-read-page-2.request.http",
        include_str!("../../../templates/connector/fixtures/003-read-page-2.request.http"),
    ),
    (
        "fixtures/003-read-page-2.response.http",
        include_str!("../../../templates/connector/fixtures/003-read-page-2.response.http"),
    ),
    (
        "fixtures/004-create.request.http",
        include_str!("../../../templates/connector/fixtures/004-create.request.http"),
    ),
    (
        "fixtures/004-create.response.http",
        include_str!("../../../templates/connector/fixtures/004-create.response.http"),
    ),
    (
        "fixtures/005-update-changed-meanwhile.request.http",
        include_str!(
            "../../../templates/connector/fixtures/005-update-changed-meanwhile.request.http"
        ),
    ),
    (
        "fixtures/005-update-changed-meanwhile.response.http",
        include_str!(
            "../../../templates/connector/fixtures/005-update-changed-meanwhile.response.http"
        ),
    ),
    (
        "fixtures/006-create-refused.request.http",
        include_str!("../../../templates/connector/fixtures/006-create-refused.request.http"),
    ),
    (
        "fixtures/006-create-refused.response.http",
        include_str!("../../../templates/connector/fixtures/006-create-refused.response.http"),
    ),
];

/// True for a crate name cargo accepts and a connector can carry: lower-case ASCII letters,
/// digits and `-`, starting with a letter, at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// The hub repository checkout holding `start` (a directory with `plugins/sdk/Cargo.toml` and
/// `wit/connector`), looking upwards.
fn checkout_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("plugins/sdk/Cargo.toml").is_file() && d.join("wit/connector").is_dir())
        .map(Path::to_path_buf)
}

/// `path` relative to `base` when `path` is below an ancestor of `base` (both absolute).
fn relative(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return path.to_path_buf();
    }
    let mut out: PathBuf = b[common..].iter().map(|_| "..").collect();
    out.extend(&p[common..]);
    out
}

/// Writes the crate `dir/NAME` (which must not exist); `sdk` is a hub repository checkout.
/// Returns the crate's directory.
pub fn scaffold(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    if !valid_name(name) {
        bail!(
            "{name:?} is not a connector name: lower-case letters, digits and '-', starting with a letter"
        );
    }
    let dir = std::path::absolute(dir).with_context(|| format!("{}", dir.display()))?;
    let target = dir.join(name);
    if target.exists() {
        bail!(
            "{} exists already: choose another name or directory",
            target.display()
        );
    }
    let checkout = match sdk {
        Some(s) => {
            let s = std::path::absolute(s)?;
            checkout_above(&s).with_context(|| format!("--sdk {}: not in a hub repository checkout (no plugins/sdk/Cargo.toml above it)", s.display()))?
        }
        None => checkout_above(&dir)
            .or_else(|| checkout_above(Path::new(env!("CARGO_MANIFEST_DIR"))))
            .context("no hub repository checkout found (above the directory, or the one this hub was built from): give one with --sdk PATH")?,
    };
    let sdk_path = relative(&checkout.join("plugins/sdk"), &target);
    let sdk_text = sdk_path.to_string_lossy().replace('\\', "/");
    let crate_name = name.replace('-', "_");
    for (file, text) in TEMPLATE {
        let path = target.join(file);
        std::fs::create_dir_all(path.parent().expect("template files have a parent"))?;
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{sdk}}", &sdk_text);
        std::fs::write(&path, text).with_context(|| format!("{}", path.display()))?;
    }
    let lock = checkout.join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, target.join("Cargo.lock"))?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_words_joined_by_dashes() {
        assert!(valid_name("labour-station") && valid_name("x2"));
        assert!(
            !valid_name("Labour")
                && !valid_name("2x")
                && !valid_name("a_b")
                && !valid_name("a-")
                && !valid_name("")
        );
    }

    #[test]
    fn the_sdk_path_is_relative_inside_the_checkout_and_absolute_outside() {
        assert_eq!(
            relative(Path::new("/r/plugins/sdk"), Path::new("/r/plugins/new")),
            Path::new("../sdk")
        );
        assert_eq!(
            relative(Path::new("/r/plugins/sdk"), Path::new("/tmp/x/new")),
            Path::new("/r/plugins/sdk")
        );
    }

    #[test]
    fn the_template_keeps_no_placeholder_but_the_secret_one() {
        let dir = tempfile::tempdir().unwrap();
        let made = scaffold(
            "labour-station",
            dir.path(),
            Some(Path::new(env!("CARGO_MANIFEST_DIR"))),
        )
        .unwrap();
        let lib = std::fs::read_to_string(made.join("src/lib.rs")).unwrap();
        assert!(lib.contains(r#"name: "labour-station".into()"#));
        let cargo = std::fs::read_to_string(made.join("Cargo.toml")).unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("plugins/sdk");
        // Absolute from a temporary directory beside the checkout, relative when the two share
        // a directory below the root (a checkout under /tmp): `relative`, tested above.
        assert!(
            cargo.contains(&format!(
                "hub-sdk = {{ path = \"{}\" }}",
                relative(&sdk, &made).display()
            )),
            "{cargo}"
        );
        for (file, _) in TEMPLATE {
            let text = std::fs::read_to_string(made.join(file)).unwrap();
            let left = text.replace("{{secret:api_key}}", "");
            assert!(!left.contains("{{"), "{file} keeps a placeholder");
        }
        assert!(made.join("Cargo.lock").is_file());
        assert!(
            scaffold("labour-station", dir.path(), None).is_err(),
            "an existing crate is not overwritten"
        );
    }
}
