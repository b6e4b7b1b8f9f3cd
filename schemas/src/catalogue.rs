//! The shared schema files, embedded so that a `hub` binary carries the catalogue it was built
//! with. Cross-file `$ref`s are resolved from this list, never from the network.
//!
//! # Versioning
//!
//! Every file carries `x-version`, a semantic version `MAJOR.MINOR.PATCH` (SemVer 2.0.0, no
//! pre-release or build part), and a connector's manifest names, per stream, the version of the
//! schema it speaks. The rule, applied by [`compatibility`]:
//!
//! - **PATCH**: documentation only (`title`, `description`, `$comment`); validation unchanged.
//! - **MINOR**: additive: new optional properties, new `$defs`, new enum values, looser bounds.
//!   Every record valid under the previous version stays valid.
//! - **MAJOR**: anything else: a property removed, renamed, made required or narrowed, a change
//!   of meaning, a different key.
//!
//! A stream speaking the same major version as the catalogue is accepted whatever its minor and
//! patch (an older minor never sends the additions; a newer minor may send a property this
//! catalogue does not know yet, which validation then refuses record by record, at its
//! pointer). A different major version, or a version that is not `MAJOR.MINOR.PATCH`, is
//! refused. The released versions are kept in `schemas/history/NAME-VERSION.json`; the hub's
//! tests check that a schema differing from its released text has a new version, and that a
//! same-major successor is additive.

/// One schema file of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// Short name used in configs and manifests, e.g. `worker`.
    pub name: &'static str,
    /// The file's `$id` (absolute URI under `https://schemas.hub.invalid/`; the `.invalid` TLD of
    /// RFC 2606 guarantees it never resolves on a network).
    pub id: &'static str,
    /// The JSON text of the schema (draft 2020-12).
    pub text: &'static str,
}

/// Base of every schema `$id`.
pub const BASE: &str = "https://schemas.hub.invalid/";

/// Every schema file, `common` (shared definitions, not an entity) first, then the five
/// entities.
pub const FILES: &[SchemaFile] = &[
    SchemaFile {
        name: "common",
        id: "https://schemas.hub.invalid/common.json",
        text: include_str!("../common.json"),
    },
    SchemaFile {
        name: "worker",
        id: "https://schemas.hub.invalid/worker.json",
        text: include_str!("../worker.json"),
    },
    SchemaFile {
        name: "enterprise",
        id: "https://schemas.hub.invalid/enterprise.json",
        text: include_str!("../enterprise.json"),
    },
    SchemaFile {
        name: "job-posting",
        id: "https://schemas.hub.invalid/job-posting.json",
        text: include_str!("../job-posting.json"),
    },
    SchemaFile {
        name: "referral",
        id: "https://schemas.hub.invalid/referral.json",
        text: include_str!("../referral.json"),
    },
    SchemaFile {
        name: "secondment",
        id: "https://schemas.hub.invalid/secondment.json",
        text: include_str!("../secondment.json"),
    },
];

/// The file with this short name.
pub fn get(name: &str) -> Option<&'static SchemaFile> {
    FILES.iter().find(|f| f.name == name)
}

/// A schema version, `MAJOR.MINOR.PATCH` (SemVer 2.0.0 §2: non-negative integers without
/// leading zeros; pre-release and build parts are not used by the catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Incremented for an incompatible change.
    pub major: u64,
    /// Incremented for an additive change.
    pub minor: u64,
    /// Incremented for a documentation-only change.
    pub patch: u64,
}

impl Version {
    /// Reads `MAJOR.MINOR.PATCH`; `None` for anything else (`1.0`, `v1.0.0`, `01.0.0`,
    /// `1.0.0-rc.1`, blanks).
    ///
    /// ```
    /// use hub_schemas::catalogue::Version;
    /// assert_eq!(Version::parse("1.10.2"), Some(Version { major: 1, minor: 10, patch: 2 }));
    /// assert_eq!(Version::parse("1.0"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.split('.');
        let mut next = || -> Option<u64> {
            let p = parts.next()?;
            let ok = !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'));
            if ok { p.parse().ok() } else { None }
        };
        let v = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        parts.next().is_none().then_some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How a version a connector speaks relates to the catalogue's, when it is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    /// Same major and minor (the patch may differ: documentation only).
    Same,
    /// Same major, older minor: the connector does not know the catalogue's additions; it never
    /// sends them, and must ignore them in records it is given.
    OlderMinor,
    /// Same major, newer minor: the connector may send additions this catalogue does not know;
    /// records carrying them are refused by validation at their pointer. Worth a warning.
    NewerMinor,
}

/// Why a version a connector speaks is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// The text is not `MAJOR.MINOR.PATCH`; `which` says whose (`"catalogue"` or `"stream"`).
    Malformed { which: &'static str, text: String },
    /// The major versions differ: the connector speaks a version this catalogue cannot read.
    MajorDiffers { catalogue: Version, spoken: Version },
}

impl std::fmt::Display for VersionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionError::Malformed { which, text } => {
                write!(
                    f,
                    "{which} schema version {text:?} is not MAJOR.MINOR.PATCH"
                )
            }
            VersionError::MajorDiffers { catalogue, spoken } => write!(
                f,
                "speaks version {spoken}, the catalogue has {catalogue}: major versions differ, so the records are not compatible"
            ),
        }
    }
}

impl std::error::Error for VersionError {}

/// Applies the versioning rule (see the module documentation) to the version a connector
/// speaks (`spoken`) against the catalogue's (`catalogue`), both `MAJOR.MINOR.PATCH`.
///
/// ```
/// use hub_schemas::catalogue::{compatibility, Compatibility};
/// assert_eq!(compatibility("1.2.0", "1.0.0"), Ok(Compatibility::OlderMinor));
/// assert!(compatibility("1.2.0", "2.0.0").is_err());
/// ```
pub fn compatibility(catalogue: &str, spoken: &str) -> Result<Compatibility, VersionError> {
    let malformed = |which, text: &str| VersionError::Malformed {
        which,
        text: text.to_string(),
    };
    let c = Version::parse(catalogue).ok_or_else(|| malformed("catalogue", catalogue))?;
    let s = Version::parse(spoken).ok_or_else(|| malformed("stream", spoken))?;
    if c.major != s.major {
        return Err(VersionError::MajorDiffers {
            catalogue: c,
            spoken: s,
        });
    }
    Ok(match s.minor.cmp(&c.minor) {
        std::cmp::Ordering::Equal => Compatibility::Same,
        std::cmp::Ordering::Less => Compatibility::OlderMinor,
        std::cmp::Ordering::Greater => Compatibility::NewerMinor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_three_plain_numbers() {
        assert_eq!(
            Version::parse("0.0.0"),
            Some(Version {
                major: 0,
                minor: 0,
                patch: 0
            })
        );
        assert_eq!(
            Version::parse("2.10.7"),
            Some(Version {
                major: 2,
                minor: 10,
                patch: 7
            })
        );
        for bad in [
            "",
            "1",
            "1.0",
            "1.0.0.0",
            "v1.0.0",
            "01.0.0",
            "1.00.0",
            "1.0.0-rc.1",
            "1.0.0+b",
            " 1.0.0",
            "1..0",
            "1.-1.0",
            "1.0.x",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
        // Ordered numerically, not as text: 1.10.0 follows 1.9.0.
        assert!(Version::parse("1.10.0") > Version::parse("1.9.0"));
        assert_eq!(Version::parse("3.2.1").unwrap().to_string(), "3.2.1");
    }

    #[test]
    fn same_major_is_accepted_and_the_minor_relation_reported() {
        assert_eq!(compatibility("1.0.1", "1.0.0"), Ok(Compatibility::Same));
        assert_eq!(
            compatibility("1.1.0", "1.0.0"),
            Ok(Compatibility::OlderMinor)
        );
        assert_eq!(
            compatibility("1.1.0", "1.3.2"),
            Ok(Compatibility::NewerMinor)
        );
    }

    #[test]
    fn another_major_or_a_malformed_version_is_refused() {
        assert_eq!(
            compatibility("1.1.0", "2.0.0"),
            Err(VersionError::MajorDiffers {
                catalogue: Version {
                    major: 1,
                    minor: 1,
                    patch: 0
                },
                spoken: Version {
                    major: 2,
                    minor: 0,
                    patch: 0
                }
            })
        );
        assert!(matches!(
            compatibility("2.0.0", "1.9.9"),
            Err(VersionError::MajorDiffers { .. })
        ));
        assert_eq!(
            compatibility("1.0.0", "1"),
            Err(VersionError::Malformed {
                which: "stream",
                text: "1".into()
            })
        );
        assert_eq!(
            compatibility("1.0.0", "1").unwrap_err().to_string(),
            "stream schema version \"1\" is not MAJOR.MINOR.PATCH"
        );
    }

    #[test]
    fn every_file_is_listed_once_with_its_id_under_the_base() {
        let names: Vec<&str> = FILES.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "common",
                "worker",
                "enterprise",
                "job-posting",
                "referral",
                "secondment"
            ]
        );
        for f in FILES {
            assert_eq!(f.id, format!("{BASE}{}.json", f.name));
            // The embedded text declares the same $id (a plain text check: no JSON parser here).
            assert!(
                f.text.contains(&format!("\"$id\": \"{}\"", f.id)),
                "{}",
                f.name
            );
        }
        assert_eq!(get("job-posting").map(|f| f.name), Some("job-posting"));
        assert!(get("jobs").is_none());
    }
}
