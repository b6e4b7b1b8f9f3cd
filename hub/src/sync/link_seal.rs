//! A link's records in the state store: sealed once, together.
//!
//! The engine holds a link's records in the clear, as canonical JSON ([`crate::keys::canonical_json`]):
//! each side's snapshot, settled record and write intent, and the base. The store gets them
//! sealed together in [`Link::sealed`] (ChaCha20-Poly1305, RFC 8439, under the context
//! `{sync}/{key hash}/link`, so a value cannot be moved to another link), the record columns
//! empty. Records equal byte for byte (the usual case once a key settled: the base, and the
//! record each side holds) are stored once.
//!
//! The sealed text is version byte `3` and a Zstandard frame (RFC 8878), compressed with a fixed
//! dictionary ([`DICTIONARY`]), of the records' slots, in the order of [`slots`], each one of:
//! `0` (none); `1`, a 4-byte little-endian length and the record's bytes; `2` and the index of
//! an earlier slot holding the same bytes; then each side's update time and version token
//! ([`encode_side`]: a time in 6 bytes, a version that is the time as a tag). (Compressed
//! together, the two sides' records, which share most of their values, take about half their
//! size.) The row's update time and version columns of such a link are empty. Version byte `2`
//! is the records' slots alone (links sealed before form 3: the update times and versions in
//! the row's columns), and `1` the same compressed without the dictionary (before form 2);
//! both are opened as they are and rewritten in form 3 by the link's next commit.
//!
//! A side's hash is most often the content hash of its snapshot, which the sealed value holds:
//! the row then holds `=` in its place ([`hash_of_snapshot`]; 32 bytes a side). A side's settled
//! hash and the hash of what the hub wrote there are most often the side's hash itself: the row
//! then holds `=` in their place too (64 bytes each saved per row). Likewise a
//! side's version token that is its update time (HY-ESMS's: 25 bytes) is held as `=`; a
//! version that itself begins with `=` is held with one more `=` in front ([`version_as_kept`];
//! migration 0015 escaped the versions stored before).
//!
//! Links stored before this form (state stores before migration 0009) hold each record sealed
//! alone, in its own column, under `{sync}/{key hash}/{a|b}` (snapshot), `…/{a|b}/settled`,
//! `…/{a|b}/intent` and `{sync}/{key hash}/base`: [`unseal`] opens those as they are, and the
//! next commit of the link writes it in this form.

use crate::keys::{Keys, OpenError};
use crate::store::{Link, Side, SideState};

/// The form's version byte, as [`pack`] writes it: the frame is compressed with
/// [`DICTIONARY`] and holds the records and then the sides' update times and versions.
const VERSION: u8 = 3;

/// The version byte of form 2 (links sealed before the sides' fields moved into the value,
/// migration 0016): the frame is compressed with [`DICTIONARY`] and holds the records alone.
/// Still opened; never written.
const VERSION_RECORDS_ONLY: u8 = 2;

/// The version byte of the first form (links sealed before the dictionary): the frame is
/// compressed without one. Still opened; never written.
const VERSION_PLAIN: u8 = 1;

/// The Zstandard raw-content dictionary of forms 2 and 3 (RFC 8878 §5): the canonical JSON
/// of the schemas' example records (`schemas/examples/*.json`, fictional people), one per line.
/// A link's records share most of their field names and many values with these, so a frame
/// refers to the dictionary instead of spelling them: the fixture's worker record, 279 bytes,
/// compresses to 90 bytes with it and to 254 without, in 3.0 µs instead of 7.1 µs (level 3,
/// prepared dictionary). **Frozen:** frames made with it open only with exactly these bytes,
/// so a new dictionary needs a new version byte (a test pins its SHA-256).
const DICTIONARY: &[u8] = include_bytes!("link_seal_dictionary.txt");

/// Zstandard's level for the slots (1–22; 3 is the library's default, about 300 MB/s here).
const LEVEL: i32 = 3;

/// Stands for "the side's hash" in a row's settled and written hash columns.
const SAME_AS_HASH: &str = "=";

/// The hash a row's `=` in a side's hash column stands for: the content hash of the side's
/// snapshot ([`Keys::content_hash`]), computed from its canonical JSON. A snapshot without the
/// text `null` is taken as its own canonical text without nulls (one HMAC over its bytes, no
/// parsing); one with it is parsed first (`None` if it is not JSON). **Frozen:** rows hold `=`
/// for this function's value; [`sealed`] writes `=` only where it equals the side's hash, so
/// bytes that are not canonical JSON only keep their hash in full.
fn hash_of_snapshot(keys: &Keys, snapshot: &[u8]) -> Option<String> {
    if !snapshot.windows(4).any(|w| w == b"null") {
        return Some(keys.content_hash_of_text(snapshot));
    }
    let record: serde_json::Value = serde_json::from_slice(snapshot).ok()?;
    Some(keys.content_hash(&record))
}

/// Stands for "the side's update time" in a row's version column; a version beginning with it
/// is kept with one more in front.
const SAME_AS_UPDATED_AT: char = '=';

/// A side's version as its row keeps it: `=` for a version equal to the side's update time,
/// a version beginning with `=` with one more `=` in front, any other as it is. The inverse of
/// [`version_as_read`].
fn version_as_kept(version: &Option<String>, updated_at: &Option<String>) -> Option<String> {
    let v = version.as_ref()?;
    Some(if version == updated_at {
        SAME_AS_UPDATED_AT.to_string()
    } else if v.starts_with(SAME_AS_UPDATED_AT) {
        format!("{SAME_AS_UPDATED_AT}{v}")
    } else {
        v.clone()
    })
}

/// A side's version from its row's version column and update time ([`version_as_kept`]).
fn version_as_read(kept: Option<String>, updated_at: &Option<String>) -> Option<String> {
    let v = kept?;
    if v.len() == 1 && v.starts_with(SAME_AS_UPDATED_AT) {
        updated_at.clone()
    } else if let Some(escaped) = v.strip_prefix(SAME_AS_UPDATED_AT) {
        Some(escaped.to_string())
    } else {
        Some(v)
    }
}

/// The record slots of the sealed value, in order ([`slots`]).
const SLOTS: usize = 7;

/// A link's records as a sealed value holds them, in [`slots`] order.
type Records = [Option<Vec<u8>>; SLOTS];

/// A side's field in form 3 held as text: a 4-byte little-endian length and the UTF-8 bytes.
const FIELD_TEXT: u8 = 1;
/// An update time held in 6 bytes ([`time_in_6_bytes`]).
const TIME_IN_6_BYTES: u8 = 3;
/// A version token equal to the side's update time.
const VERSION_IS_TIME: u8 = 4;
/// A version token that is the side's update time as local date and time, `YYYY-MM-DD
/// HH:MM:SS` (ISO 8601 with a space, in the time's own offset: ZF-REG's version beside its
/// RFC 3339 update time).
const VERSION_IS_LOCAL_TIME: u8 = 5;

/// An RFC 3339 update time in 6 bytes, where it is exactly what chrono writes back for it
/// (`YYYY-MM-DDTHH:MM:SS±HH:MM`: whole seconds, a numeric offset) and its offset is a whole
/// number of quarter hours: the seconds since 1970-01-01T00:00:00Z as a 40-bit little-endian
/// two's-complement integer (about ±17,000 years), then the offset in quarter hours as a
/// signed byte. `None` for any other text (kept as text), and for any whose 6 bytes do not
/// give it back exactly ([`time_of_6_bytes`]): a leap second (`23:59:60`), which POSIX seconds
/// do not count. **Frozen:** sealed values hold it.
fn time_in_6_bytes(time: &str) -> Option<[u8; 6]> {
    let t = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    let seconds = t.timestamp();
    let offset = t.offset().local_minus_utc();
    if !(-(1 << 39)..(1 << 39)).contains(&seconds) || offset % 900 != 0 {
        return None;
    }
    let mut out = [0; 6];
    out[..5].copy_from_slice(&seconds.to_le_bytes()[..5]);
    out[5] = i8::try_from(offset / 900).ok()?.to_le_bytes()[0];
    (time_of_6_bytes(out).as_deref() == Some(time)).then_some(out)
}

/// The time [`time_in_6_bytes`] made these bytes of; `None` for an offset chrono refuses (over
/// a day).
fn time_of_6_bytes(bytes: [u8; 6]) -> Option<String> {
    let mut seconds = [if bytes[4] & 0x80 == 0 { 0 } else { 0xff }; 8];
    seconds[..5].copy_from_slice(&bytes[..5]);
    let offset = chrono::FixedOffset::east_opt(i32::from(i8::from_le_bytes([bytes[5]])) * 900)?;
    let t = chrono::DateTime::from_timestamp(i64::from_le_bytes(seconds), 0)?;
    Some(
        t.with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    )
}

/// An RFC 3339 time's local date and time, `YYYY-MM-DD HH:MM:SS` ([`VERSION_IS_LOCAL_TIME`]).
fn local_time_of(time: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    Some(t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Appends a side's update time and version token, form 3: the time as `0` (none),
/// [`TIME_IN_6_BYTES`] and its 6 bytes, or [`FIELD_TEXT`] and its text; then the version as
/// `0`, [`VERSION_IS_TIME`], [`VERSION_IS_LOCAL_TIME`] or [`FIELD_TEXT`] and its text. (As
/// text, the two times of a settled row took 52 bytes of the row; in 6 bytes each they take
/// about as much of the compressed value as their text did of the row's records.)
fn encode_side(out: &mut Vec<u8>, s: &SideState) {
    fn text(out: &mut Vec<u8>, t: &str) {
        out.push(FIELD_TEXT);
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    match s.updated_at.as_deref() {
        None => out.push(0),
        Some(t) => match time_in_6_bytes(t) {
            Some(bytes) => {
                out.push(TIME_IN_6_BYTES);
                out.extend_from_slice(&bytes);
            }
            None => text(out, t),
        },
    }
    let time = s.updated_at.as_deref();
    match s.version.as_deref() {
        None => out.push(0),
        Some(v) if Some(v) == time => out.push(VERSION_IS_TIME),
        Some(v) if time.and_then(local_time_of).as_deref() == Some(v) => {
            out.push(VERSION_IS_LOCAL_TIME)
        }
        Some(v) => text(out, v),
    }
}

/// A side's update time and version token from `text` at [`encode_side`]'s place, advancing
/// it. Errors: a field cut short, an unknown tag, text not UTF-8, a version that refers to an
/// update time the side does not have.
fn decode_side(text: &mut &[u8]) -> Result<(Option<String>, Option<String>), OpenError> {
    fn take<'a>(text: &mut &'a [u8], n: usize) -> Result<&'a [u8], OpenError> {
        if text.len() < n {
            return Err(OpenError);
        }
        let (head, rest) = text.split_at(n);
        *text = rest;
        Ok(head)
    }
    fn text_of(text: &mut &[u8]) -> Result<String, OpenError> {
        let len = u32::from_le_bytes(take(text, 4)?.try_into().map_err(|_| OpenError)?);
        String::from_utf8(take(text, len as usize)?.to_vec()).map_err(|_| OpenError)
    }
    let time = match take(text, 1)?[0] {
        0 => None,
        TIME_IN_6_BYTES => {
            let bytes = take(text, 6)?.try_into().map_err(|_| OpenError)?;
            Some(time_of_6_bytes(bytes).ok_or(OpenError)?)
        }
        FIELD_TEXT => Some(text_of(text)?),
        _ => return Err(OpenError),
    };
    let version = match take(text, 1)?[0] {
        0 => None,
        VERSION_IS_TIME => Some(time.clone().ok_or(OpenError)?),
        VERSION_IS_LOCAL_TIME => Some(time.as_deref().and_then(local_time_of).ok_or(OpenError)?),
        FIELD_TEXT => Some(text_of(text)?),
        _ => return Err(OpenError),
    };
    Ok((time, version))
}

/// The sealing context of a link's value.
fn context(sync: &str, key_hash: &str) -> String {
    format!("{sync}/{key_hash}/link")
}

/// The link's record fields, in slot order.
fn slots(link: &Link) -> [Option<&[u8]>; SLOTS] {
    [
        &link.a.snapshot,
        &link.a.settled,
        &link.a.intent,
        &link.b.snapshot,
        &link.b.settled,
        &link.b.intent,
        &link.base,
    ]
    .map(|s| s.as_deref())
}

/// The link's record fields, in slot order, to fill.
fn slots_mut(link: &mut Link) -> [&mut Option<Vec<u8>>; SLOTS] {
    [
        &mut link.a.snapshot,
        &mut link.a.settled,
        &mut link.a.intent,
        &mut link.b.snapshot,
        &mut link.b.settled,
        &mut link.b.intent,
        &mut link.base,
    ]
}

/// The link's text in form 3: its records' slots ([`slots`]), then each side's update time and
/// version ([`encode_side`], side a's then b's).
fn encode(link: &Link) -> Vec<u8> {
    let mut out = encode_slots(&slots(link));
    for s in [&link.a, &link.b] {
        encode_side(&mut out, s);
    }
    out
}

/// Slots as one text (see the module's documentation).
fn encode_slots(slots: &[Option<&[u8]>]) -> Vec<u8> {
    let size: usize = slots.iter().flatten().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(slots.len() * 5 + size);
    for (i, slot) in slots.iter().enumerate() {
        match slot {
            None => out.push(0),
            Some(bytes) => match slots[..i].iter().position(|s| s == slot) {
                Some(same) => out.extend_from_slice(&[2, same as u8]),
                None => {
                    out.push(1);
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    out.extend_from_slice(bytes);
                }
            },
        }
    }
    out
}

/// The record slots at the start of a text [`encode_slots`] made, and the rest of the text.
/// Errors: a slot cut short or referring forward (the text was not made by this form: refused
/// like a value that does not open).
fn decode(text: &[u8]) -> Result<(Records, &[u8]), OpenError> {
    let mut out: Records = Default::default();
    let mut rest = text;
    for i in 0..SLOTS {
        let (&tag, r) = rest.split_first().ok_or(OpenError)?;
        rest = r;
        out[i] = match tag {
            0 => None,
            1 => {
                let (len, r) = rest.split_first_chunk::<4>().ok_or(OpenError)?;
                let len = u32::from_le_bytes(*len) as usize;
                if r.len() < len {
                    return Err(OpenError);
                }
                let (bytes, r) = r.split_at(len);
                rest = r;
                Some(bytes.to_vec())
            }
            2 => {
                let (&same, r) = rest.split_first().ok_or(OpenError)?;
                rest = r;
                let same = usize::from(same);
                if same >= i {
                    return Err(OpenError);
                }
                out[same].clone()
            }
            _ => return Err(OpenError),
        };
    }
    Ok((out, rest))
}

/// The largest slot text a frame may say it holds (a link holds at most seven records, each
/// within the connectors' record limit): a frame claiming more is refused, not allocated.
const MAX_TEXT: u64 = 64 << 20;

/// [`DICTIONARY`] prepared once per process for compressing at [`LEVEL`] and for decompressing
/// (the tables built from it are shared by every thread's context).
fn prepared() -> &'static (
    zstd::dict::EncoderDictionary<'static>,
    zstd::dict::DecoderDictionary<'static>,
) {
    static PREPARED: std::sync::OnceLock<(
        zstd::dict::EncoderDictionary<'static>,
        zstd::dict::DecoderDictionary<'static>,
    )> = std::sync::OnceLock::new();
    PREPARED.get_or_init(|| {
        (
            zstd::dict::EncoderDictionary::copy(DICTIONARY, LEVEL),
            zstd::dict::DecoderDictionary::copy(DICTIONARY),
        )
    })
}

/// A thread's Zstandard contexts: compressing with the dictionary, decompressing with it (form
/// 2) and without (form 1).
struct Contexts {
    compress: zstd::bulk::Compressor<'static>,
    decompress: zstd::bulk::Decompressor<'static>,
    decompress_plain: zstd::bulk::Decompressor<'static>,
}

thread_local! {
    /// Zstandard's contexts of this thread, made once: making one per link (about 100 KB of
    /// tables each) cost as much as compressing the link.
    static CONTEXTS: std::cell::RefCell<Option<Contexts>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's Zstandard contexts.
fn with_contexts<T>(f: impl FnOnce(&mut Contexts) -> T) -> T {
    CONTEXTS.with(|c| {
        let mut c = c.borrow_mut();
        let contexts = c.get_or_insert_with(|| {
            let (encoder, decoder) = prepared();
            Contexts {
                compress: zstd::bulk::Compressor::with_prepared_dictionary(encoder)
                    .expect("a Zstandard context with a prepared dictionary"),
                decompress: zstd::bulk::Decompressor::with_prepared_dictionary(decoder)
                    .expect("a Zstandard decompression context with a prepared dictionary"),
                decompress_plain: zstd::bulk::Decompressor::new()
                    .expect("a Zstandard decompression context"),
            }
        });
        f(contexts)
    })
}

/// The value sealed for `link`: the version byte and its slots in form 3 ([`encode`]),
/// compressed with the dictionary.
fn pack(link: &Link) -> Vec<u8> {
    compressed(VERSION, &encode(link))
}

/// `version` and `text` compressed with the dictionary.
fn compressed(version: u8, text: &[u8]) -> Vec<u8> {
    let frame = with_contexts(|c| c.compress.compress(text))
        .expect("Zstandard compresses any input in memory");
    let mut out = Vec::with_capacity(1 + frame.len());
    out.push(version);
    out.extend_from_slice(&frame);
    out
}

/// Decompresses a frame [`pack`] made (which records the text's size in the frame header), with
/// [`DICTIONARY`] or, for form 1, without. Errors: no size in the header, a size over
/// [`MAX_TEXT`], a frame that does not decompress.
fn decompress(frame: &[u8], with_dictionary: bool) -> Result<Vec<u8>, OpenError> {
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_TEXT => n as usize,
        _ => return Err(OpenError),
    };
    let mut text = Vec::with_capacity(size);
    with_contexts(|c| {
        let d = if with_dictionary {
            &mut c.decompress
        } else {
            &mut c.decompress_plain
        };
        d.decompress_to_buffer(frame, &mut text)
    })
    .map_err(|_| OpenError)?;
    Ok(text)
}

/// A side's update time and version token, in the clear.
type SideFields = (Option<String>, Option<String>);

/// What a sealed value holds: the records, in [`slots`] order, and, from form 3 on, each side's
/// update time and version (side a's, then b's).
struct Unpacked {
    records: Records,
    sides: Option<[SideFields; 2]>,
}

/// What a value [`pack`] made holds, or one of forms 1 and 2. Errors: another version, a frame
/// that does not decompress, a text that does not decode or goes on after its end.
fn unpack(value: &[u8]) -> Result<Unpacked, OpenError> {
    let (&version, frame) = value.split_first().ok_or(OpenError)?;
    let text = match version {
        VERSION | VERSION_RECORDS_ONLY => decompress(frame, true)?,
        VERSION_PLAIN => decompress(frame, false)?,
        _ => return Err(OpenError),
    };
    let (records, mut rest) = decode(&text)?;
    let sides = if version == VERSION {
        Some([decode_side(&mut rest)?, decode_side(&mut rest)?])
    } else {
        None
    };
    if !rest.is_empty() {
        return Err(OpenError);
    }
    Ok(Unpacked { records, sides })
}

/// The link as the store keeps it: its records and its sides' update times and versions
/// sealed together in [`Link::sealed`], those fields empty (the row's columns set to NULL, so
/// a row of an older form is rewritten in this one). A link with no record has no sealed value
/// and keeps its sides' update times and versions in the row.
pub fn sealed(keys: &Keys, sync: &str, link: &Link) -> Link {
    let any = slots(link).iter().any(|s| s.is_some());
    // The side as its row holds it: no record, update time or version if there is a sealed
    // value (they are in it), and `=` for a hash that is the side's own.
    let row = |s: &SideState| {
        let same = |h: &Option<String>| match h {
            Some(_) if *h == s.hash => Some(SAME_AS_HASH.to_string()),
            _ => h.clone(),
        };
        let of_snapshot = s
            .snapshot
            .as_deref()
            .and_then(|r| hash_of_snapshot(keys, r));
        let (version, updated_at) = if any {
            (None, None)
        } else {
            (
                version_as_kept(&s.version, &s.updated_at),
                s.updated_at.clone(),
            )
        };
        SideState {
            remote_id: s.remote_id.clone(),
            version,
            updated_at,
            hash: match &s.hash {
                Some(h) if of_snapshot.as_ref() == Some(h) => Some(SAME_AS_HASH.to_string()),
                h => h.clone(),
            },
            written_hash: same(&s.written_hash),
            snapshot: None,
            settled_hash: same(&s.settled_hash),
            settled: None,
            intent: None,
            deleted: s.deleted,
            settled_deleted: s.settled_deleted,
        }
    };
    Link {
        key_hash: link.key_hash.clone(),
        a: row(&link.a),
        b: row(&link.b),
        base: None,
        pending: link.pending,
        attempts: link.attempts,
        last_error: link.last_error.clone(),
        sealed: any.then(|| keys.seal(&context(sync, &link.key_hash), &pack(link))),
    }
}

/// The links as the store keeps them ([`sealed`]).
pub fn sealed_all(keys: &Keys, sync: &str, links: &[Link]) -> Vec<Link> {
    links.iter().map(|l| sealed(keys, sync, l)).collect()
}

/// Opens a link as read from the store, in place: its records in the clear, from
/// [`Link::sealed`] or, for a row of the older form, from each record's own column; its
/// sides' update times and versions from the sealed value (form 3) or the row.
/// Errors: a value that does not open with this state key (another key, an altered row).
pub fn unseal(keys: &Keys, sync: &str, link: &mut Link) -> Result<(), OpenError> {
    // Whether the versions are the row's, as [`version_as_kept`] wrote them.
    let mut versions_in_row = true;
    if let Some(sealed) = link.sealed.take() {
        let value = keys.open(&context(sync, &link.key_hash), &sealed)?;
        let Unpacked { records, sides } = unpack(&value)?;
        for (field, slot) in slots_mut(link).into_iter().zip(records) {
            *field = slot;
        }
        if let Some(sides) = sides {
            versions_in_row = false;
            for (s, (at, version)) in [&mut link.a, &mut link.b].into_iter().zip(sides) {
                // Form 3 keeps them in the sealed value alone: a row holding them too was
                // altered.
                if s.updated_at.is_some() || s.version.is_some() {
                    return Err(OpenError);
                }
                (s.updated_at, s.version) = (at, version);
            }
        }
    } else {
        open_older_form(keys, sync, link)?;
    }
    for side in [Side::A, Side::B] {
        let s = link.side_mut(side);
        if s.hash.as_deref() == Some(SAME_AS_HASH) {
            // `=` is written only for a side with a snapshot whose hash it is: a row holding it
            // otherwise was altered.
            s.hash = Some(
                s.snapshot
                    .as_deref()
                    .and_then(|r| hash_of_snapshot(keys, r))
                    .ok_or(OpenError)?,
            );
        }
        for h in [&mut s.settled_hash, &mut s.written_hash] {
            if h.as_deref() == Some(SAME_AS_HASH) {
                h.clone_from(&s.hash);
            }
        }
        if versions_in_row {
            s.version = version_as_read(s.version.take(), &s.updated_at);
        }
    }
    Ok(())
}

/// [`unseal`]'s records of a row of the form before migration 0009: each sealed alone in its own
/// column.
fn open_older_form(keys: &Keys, sync: &str, link: &mut Link) -> Result<(), OpenError> {
    let key_hash = link.key_hash.clone();
    for side in [Side::A, Side::B] {
        let own = format!("{sync}/{key_hash}/{}", side.as_str());
        let s = link.side_mut(side);
        for (field, context) in [
            (&mut s.snapshot, own.clone()),
            (&mut s.settled, format!("{own}/settled")),
            (&mut s.intent, format!("{own}/intent")),
        ] {
            if let Some(sealed) = field.take() {
                *field = Some(keys.open(&context, &sealed)?);
            }
        }
    }
    if let Some(sealed) = link.base.take() {
        link.base = Some(keys.open(&format!("{sync}/{key_hash}/base"), &sealed)?);
    }
    Ok(())
}

/// The link as state stores before migration 0009 kept it: each record sealed alone in its own
/// column under its own context (see the module's documentation), no [`Link::sealed`]. What
/// [`unseal`] reads for such rows; the migration's tests write a store of that form with it.
pub fn in_older_form(keys: &Keys, sync: &str, link: &Link) -> Link {
    let key_hash = &link.key_hash;
    let seal = |context: String, v: &Option<Vec<u8>>| v.as_ref().map(|b| keys.seal(&context, b));
    let mut out = Link {
        sealed: None,
        base: seal(format!("{sync}/{key_hash}/base"), &link.base),
        ..link.clone()
    };
    for side in [Side::A, Side::B] {
        let own = format!("{sync}/{key_hash}/{}", side.as_str());
        let from = link.side(side);
        let s = out.side_mut(side);
        s.snapshot = seal(own.clone(), &from.snapshot);
        s.settled = seal(format!("{own}/settled"), &from.settled);
        s.intent = seal(format!("{own}/intent"), &from.intent);
    }
    out
}

/// The link as state stores between migrations 0011 and 0016 kept it: its records sealed
/// together in form 2 (no update times or versions in the value), the sides' update times in
/// their columns and their versions as [`version_as_kept`] writes them, hashes as [`sealed`]
/// writes them. What [`unseal`] reads for such rows; the tests write a store of that form with
/// it.
pub fn in_form_2(keys: &Keys, sync: &str, link: &Link) -> Link {
    let mut out = sealed(keys, sync, link);
    if out.sealed.is_some() {
        let value = compressed(VERSION_RECORDS_ONLY, &encode_slots(&slots(link)));
        out.sealed = Some(keys.seal(&context(sync, &link.key_hash), &value));
    }
    for side in [Side::A, Side::B] {
        let from = link.side(side);
        let s = out.side_mut(side);
        s.updated_at.clone_from(&from.updated_at);
        s.version = version_as_kept(&from.version, &from.updated_at);
    }
    out
}

/// A link for the tests of its forms.
#[cfg(test)]
pub(crate) mod test_links {
    use crate::store::Link;

    /// The update time of [`settled_pair`]'s side b, an HY-ESMS worker (its version).
    pub(crate) const T: &str = "2026-12-08T03:46:00+08:00";
    /// The update time of its side a, a ZF-REG resident (its version: `2021-10-29 10:27:57`).
    pub(crate) const U: &str = "2021-10-29T10:27:57+08:00";

    /// A settled link of a ZF-REG resident (side a) and its HY-ESMS worker (side b), the same
    /// record on both sides, with their update times and versions.
    pub(crate) fn settled_pair() -> Link {
        let rec = br#"{"idNumber":"522325199001011234","name":"x"}"#.to_vec();
        let mut l = Link::new("k1".into());
        l.a.snapshot = Some(rec.clone());
        l.a.updated_at = Some(U.into());
        l.a.version = Some("2021-10-29 10:27:57".into());
        l.b.snapshot = Some(rec);
        l.b.updated_at = Some(T.into());
        l.b.version = Some(T.into());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(&[7; 32])
    }

    fn settled_link() -> Link {
        let rec = br#"{"idNumber":"522325199001011234","name":"x"}"#.to_vec();
        let mut l = Link::new("k1".into());
        l.a.snapshot = Some(rec.clone());
        l.b.snapshot = Some(rec.clone());
        l.b.intent = Some(br#"{"intent":2}"#.to_vec());
        l.base = Some(rec);
        l.a.hash = Some("h".into());
        l.a.settled_hash = Some("h".into());
        l.b.hash = Some("g".into());
        l.b.settled_hash = Some("f".into());
        l.b.written_hash = Some("g".into());
        l
    }

    #[test]
    fn a_link_sealed_once_opens_to_the_same_records_and_stores_a_repeated_record_once() {
        let (k, l) = (keys(), settled_link());
        let stored = sealed(&k, "workers", &l);
        assert_eq!(
            (
                stored.a.snapshot.as_ref(),
                stored.base.as_ref(),
                stored.b.intent.as_ref()
            ),
            (None, None, None)
        );
        // The hashes equal to the side's own stand as `=`; another stays.
        let hashes = |s: &crate::store::SideState| {
            (
                s.hash.clone(),
                s.settled_hash.clone(),
                s.written_hash.clone(),
            )
        };
        let [h, g, f, eq] = ["h", "g", "f", "="].map(|s| Some(s.to_string()));
        assert_eq!(hashes(&stored.a), (h, eq.clone(), None));
        assert_eq!(hashes(&stored.b), (g, f, eq));
        // Slot 0 (1 + 4 + 44 bytes), 1 and 2 empty, slot 3 = slot 0 (2 bytes), 4 empty, slot 5
        // (1 + 4 + 12), slot 6 = slot 0 (2); the four sides' fields empty (1 each).
        let text = encode(&l);
        assert_eq!(text.len(), 49 + 1 + 1 + 2 + 1 + 17 + 2 + 4);
        // Sealed: the version byte and the frame (made with the dictionary), a 12-byte nonce and
        // a 16-byte tag.
        let frame = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY)
            .unwrap()
            .compress(&text)
            .unwrap();
        assert_eq!(
            stored.sealed.as_ref().unwrap().len(),
            1 + frame.len() + 12 + 16
        );
        let mut back = stored.clone();
        unseal(&k, "workers", &mut back).unwrap();
        assert_eq!(back, Link { sealed: None, ..l });
    }

    /// Each side's update time and version inside `stored`'s sealed value (form 3).
    fn sides_sealed(k: &Keys, stored: &Link) -> [SideFields; 2] {
        let value = k
            .open(
                &context("workers", &stored.key_hash),
                stored.sealed.as_ref().unwrap(),
            )
            .unwrap();
        unpack(&value).unwrap().sides.unwrap()
    }

    /// `stored`, as the store read it, opens to `original` (with no sealed value).
    fn assert_opens_to(k: &Keys, stored: &Link, original: &Link) {
        let mut back = stored.clone();
        unseal(k, "workers", &mut back).unwrap();
        assert_eq!(
            back,
            Link {
                sealed: None,
                ..original.clone()
            }
        );
    }

    #[test]
    fn a_hash_that_is_the_content_hash_of_the_sides_snapshot_is_kept_as_equals() {
        let k = keys();
        let plain = br#"{"idNumber":"522325199001011234","name":"x"}"#.to_vec();
        let with_nulls = br#"{"hiredOn":null,"idNumber":"522325199001011234","name":"x"}"#.to_vec();
        let plain_hash = k.content_hash(&serde_json::from_slice(&plain).unwrap());
        // The content hash leaves null members out: both records hash the same.
        assert_eq!(
            plain_hash,
            k.content_hash(&serde_json::from_slice(&with_nulls).unwrap())
        );
        let mut l = Link::new("k1".into());
        l.a.snapshot = Some(plain.clone());
        l.a.hash = Some(plain_hash.clone());
        l.a.settled_hash = Some(plain_hash.clone());
        l.b.snapshot = Some(with_nulls);
        l.b.hash = Some(plain_hash.clone());
        l.b.written_hash = Some(plain_hash.clone());
        let stored = sealed(&k, "workers", &l);
        let eq = Some("=".to_string());
        assert_eq!(
            (
                &stored.a.hash,
                &stored.a.settled_hash,
                &stored.b.hash,
                &stored.b.written_hash
            ),
            (&eq, &eq, &eq, &eq)
        );
        assert_opens_to(&k, &stored, &l);

        // A hash that is not its snapshot's (a delete's, an older record's) stays as it is; so
        // does one without a snapshot, or with a snapshot that is not JSON.
        let other = "ab".repeat(32);
        let mut l2 = l.clone();
        l2.a.hash = Some(other.clone());
        l2.b.snapshot = None;
        l2.b.intent = Some(b"{}".to_vec());
        let stored = sealed(&k, "workers", &l2);
        assert_eq!(stored.a.hash.as_deref(), Some(other.as_str()));
        assert_eq!(stored.b.hash.as_deref(), Some(plain_hash.as_str()));
        assert_opens_to(&k, &stored, &l2);
        let mut not_json = l.clone();
        not_json.a.snapshot = Some(b"null, not a record".to_vec());
        assert_eq!(sealed(&k, "workers", &not_json).a.hash, Some(plain_hash));

        // `=` in a row whose sealed value has no snapshot for it: an altered row.
        let mut altered = sealed(&k, "workers", &l2);
        altered.b.hash = eq;
        assert!(unseal(&k, "workers", &mut altered).is_err());
    }

    #[test]
    fn a_version_equal_to_the_update_time_is_kept_as_equals_and_one_beginning_with_equals_escaped()
    {
        let t = "2026-12-08T03:46:00+08:00";
        // (version, update time, as the row keeps the version)
        let cases: [(Option<&str>, Option<&str>, Option<&str>); 9] = [
            (Some(t), Some(t), Some("=")),
            (
                Some("2026-12-08 03:46:00"),
                Some(t),
                Some("2026-12-08 03:46:00"),
            ),
            (Some("="), Some(t), Some("==")),
            (Some("=x"), Some(t), Some("==x")),
            (Some("=="), Some("=="), Some("=")),
            (Some("="), None, Some("==")),
            (Some(t), None, Some(t)),
            (None, Some(t), None),
            (Some(""), Some(t), Some("")),
        ];
        let k = keys();
        for (version, updated_at, kept) in cases {
            // A link without records (no sealed value): its row keeps its times and versions.
            let mut l = Link::new("k1".into());
            l.b.version = version.map(String::from);
            l.b.updated_at = updated_at.map(String::from);
            let stored = sealed(&k, "workers", &l);
            assert_eq!(stored.sealed, None);
            assert_eq!(
                stored.b.version.as_deref(),
                kept,
                "{version:?} at {updated_at:?}"
            );
            assert_eq!(stored.b.updated_at.as_deref(), updated_at);
            let mut back = stored.clone();
            unseal(&k, "workers", &mut back).unwrap();
            assert_eq!(
                back.b.version.as_deref(),
                version,
                "{version:?} at {updated_at:?}"
            );
            assert_eq!(back, Link { sealed: None, ..l });
        }
    }

    /// `hub/src/sync/link_seal_dictionary.txt`'s SHA-256 when form 2 was made (`sha256sum`).
    const DICTIONARY_SHA256: &str =
        "bf49d8faf728bb41239f2fc42f61056378420174c1dd394270525b444b63de81";

    #[test]
    fn the_dictionary_of_form_2_is_the_one_its_frames_were_made_with() {
        use sha2::Digest as _;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(DICTIONARY)),
            DICTIONARY_SHA256,
            "link_seal_dictionary.txt changed: links sealed with it would no longer open; \
             keep it and give a new dictionary a new version byte"
        );
    }

    /// The form-2 value of `link`'s records (no sides' fields), as links sealed before form 3
    /// hold them, made here from the slots and the dictionary.
    fn pack_form_2(link: &Link) -> Vec<u8> {
        let mut out = vec![VERSION_RECORDS_ONLY];
        out.extend(
            zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY)
                .unwrap()
                .compress(&encode_slots(&slots(link)))
                .unwrap(),
        );
        out
    }

    #[test]
    fn a_value_of_any_form_opens_and_the_dictionary_shrinks_a_worker_record_by_more_than_half() {
        // The fixture connector's worker 0 (plugins/fixture: `worker(0)`), canonical JSON.
        let worker = r#"{"employer":{"name":"伯恩光学(惠州)有限公司","uscc":null},"gender":"male","hometownTownship":"珉谷街道","idNumber":"522325197001010012","name":"工人0","phone":"13900000000","position":"普工","status":"employed","workplace":{"countyCode":"441303","province":"广东省"}}"#;
        let mut l = Link::new("k1".into());
        l.a.snapshot = Some(worker.as_bytes().to_vec());
        let records = slots(&l);
        let form2 = pack_form_2(&l);
        let mut form1 = vec![VERSION_PLAIN];
        form1.extend(zstd::bulk::compress(&encode_slots(&records), LEVEL).unwrap());
        let form3 = pack(&l);
        assert_eq!(form3[0], 3);
        for value in [&form1, &form2, &form3] {
            let u = unpack(value).unwrap();
            assert_eq!(u.records[0].as_deref(), Some(worker.as_bytes()));
            assert_eq!(u.sides.is_some(), value[0] == 3);
        }
        assert_eq!(
            unpack(&form3).unwrap().sides,
            Some([(None, None), (None, None)])
        );
        assert!(
            form2.len() * 2 < form1.len(),
            "with the dictionary {} bytes, without {}",
            form2.len(),
            form1.len()
        );
        // An unknown version byte is refused.
        let mut unknown = form3.clone();
        unknown[0] = 4;
        assert!(unpack(&unknown).is_err());
    }

    #[test]
    fn an_rfc_3339_time_in_whole_seconds_and_quarter_hours_takes_6_bytes_and_any_other_stays_text()
    {
        // 2021-10-29T10:27:57+08:00 = 2021-10-29T02:27:57Z = 1,635,474,477 s (0x61_7B_5C_2D)
        // after the epoch; +08:00 = 32 quarter hours.
        let t = "2021-10-29T10:27:57+08:00";
        assert_eq!(time_in_6_bytes(t), Some([0x2d, 0x5c, 0x7b, 0x61, 0x00, 32]));
        // 1900-01-01T00:00:00Z = -2,208,988,800 s (-0x83_AA_7E_80, 40 bits: FF_7C_55_81_80);
        // Nepal's +05:45 = 23 quarter hours; -03:30 = -14 (0xF2).
        assert_eq!(
            time_in_6_bytes("1900-01-01T00:00:00+00:00"),
            Some([0x80, 0x81, 0x55, 0x7c, 0xff, 0])
        );
        for time in [
            t,
            "1900-01-01T00:00:00+00:00",
            "2026-12-08T03:46:00+05:45",
            "2026-12-08T03:46:00-03:30",
        ] {
            let bytes = time_in_6_bytes(time).unwrap();
            assert_eq!(time_of_6_bytes(bytes).as_deref(), Some(time));
        }
        assert_eq!(
            time_in_6_bytes("2026-12-08T03:46:00-03:30").unwrap()[5],
            0xf2
        );
        // Text chrono would not write back byte for byte, an offset off the quarter hours, not
        // RFC 3339: kept as text.
        for time in [
            "2026-12-08T03:46:00Z",
            "2026-12-08T03:46:00.5+08:00",
            "2026-12-08t03:46:00+08:00",
            "2026-12-08T03:46:00-00:00",
            "2026-12-08T03:46:00+08:10",
            "2026-12-08 03:46:00",
            "",
            // Leap seconds (RFC 3339 §5.7): chrono reads and writes them, POSIX seconds do not
            // count them, so 6 bytes would give back 23:59:59 (review).
            "2016-12-31T23:59:60+00:00",
            "2026-12-08T03:46:60+08:00",
        ] {
            assert_eq!(time_in_6_bytes(time), None, "{time}");
        }
        assert_eq!(local_time_of(t).as_deref(), Some("2021-10-29 10:27:57"));
    }

    #[test]
    fn the_sides_update_times_and_versions_are_sealed_in_the_value_and_an_older_rows_read_from_its_columns()
     {
        let k = keys();
        // An HY-ESMS worker (its version is its update time) and the registry's copy (its
        // version its update time as local date and time).
        let (t, u) = (test_links::T, test_links::U);
        let l = test_links::settled_pair();
        // Records: slot 0 (1 + 4 + 44), 1 and 2 empty, slot 3 = slot 0 (2), 4 to 6 empty; then
        // side a: tag 3 and 6 bytes, tag 5; side b: tag 3 and 6 bytes, tag 4.
        let text = encode(&l);
        assert_eq!(text.len(), 49 + 1 + 1 + 2 + 1 + 1 + 1 + (7 + 1) * 2);
        assert_eq!(
            &text[text.len() - 16..],
            [
                &[3, 0x2d, 0x5c, 0x7b, 0x61, 0x00, 32, 5][..],
                &[3][..],
                &time_in_6_bytes(t).unwrap()[..],
                &[4][..]
            ]
            .concat()
        );
        let stored = sealed(&k, "workers", &l);
        for s in [&stored.a, &stored.b] {
            assert_eq!((&s.updated_at, &s.version), (&None, &None));
        }
        assert_eq!(
            sides_sealed(&k, &stored),
            [
                (Some(u.to_string()), Some("2021-10-29 10:27:57".to_string())),
                (Some(t.to_string()), Some(t.to_string()))
            ]
        );
        assert_opens_to(&k, &stored, &l);

        // Versions that are not their time, times that are not RFC 3339, a version beginning
        // with `=`, none: held as text or `0`, read back as they were.
        for (time, version) in [
            (Some("2026-12-08T03:46:00Z"), Some("=v1")),
            (
                Some("2016-12-31T23:59:60+00:00"),
                Some("2016-12-31T23:59:60+00:00"),
            ),
            (
                Some("2016-12-31T23:59:60+00:00"),
                Some("2016-12-31 23:59:60"),
            ),
            (Some("yesterday"), Some("yesterday")),
            (Some("yesterday"), Some("v7")),
            (None, Some("=")),
            (Some(t), None),
            (None, None),
        ] {
            let mut m = l.clone();
            m.a.updated_at = time.map(String::from);
            m.a.version = version.map(String::from);
            let stored = sealed(&k, "workers", &m);
            assert_opens_to(&k, &stored, &m);
        }

        // A row of form 2: the records sealed alone, the times and versions in its columns
        // (a version equal to its time as `=`).
        let mut form2 = Link {
            sealed: Some(k.seal(&context("workers", "k1"), &pack_form_2(&l))),
            ..sealed(&k, "workers", &l)
        };
        form2.a.updated_at = Some(u.into());
        form2.a.version = Some("2021-10-29 10:27:57".into());
        form2.b.updated_at = Some(t.into());
        form2.b.version = Some("=".into());
        assert_opens_to(&k, &form2, &l);
        // `in_form_2` (the tests' stores of that form) makes the same row.
        let made = in_form_2(&k, "workers", &l);
        let opened = |v: &Link| {
            let value = k
                .open(&context("workers", "k1"), v.sealed.as_ref().unwrap())
                .unwrap();
            assert_eq!(value[0], VERSION_RECORDS_ONLY);
            unpack(&value).unwrap().records
        };
        assert_eq!(opened(&made), opened(&form2));
        assert_eq!(
            Link {
                sealed: None,
                ..made.clone()
            },
            Link {
                sealed: None,
                ..form2.clone()
            }
        );
        assert_opens_to(&k, &made, &l);

        // A row of form 3 holding a time or a version beside the sealed value: altered.
        let mut altered = stored.clone();
        altered.b.version = Some("20261208034601".into());
        assert!(unseal(&k, "workers", &mut altered).is_err());
        // A version said to be a time the side does not have, or the local form of a time that
        // is not RFC 3339; an unknown tag: refused.
        for side in [
            &[0, VERSION_IS_TIME][..],
            &[0, VERSION_IS_LOCAL_TIME][..],
            &[FIELD_TEXT, 1, 0, 0, 0, b'x', VERSION_IS_LOCAL_TIME][..],
            &[9, 0][..],
            &[0, 9][..],
        ] {
            assert!(decode_side(&mut &side[..]).is_err(), "{side:?}");
        }
        let mut ok: &[u8] = &[FIELD_TEXT, 1, 0, 0, 0, b'x', VERSION_IS_TIME];
        assert_eq!(
            decode_side(&mut ok).unwrap(),
            (Some("x".to_string()), Some("x".to_string()))
        );
        assert!(ok.is_empty());
    }

    #[test]
    fn a_frame_without_its_size_or_claiming_more_than_a_link_can_hold_is_refused() {
        let text = encode(&settled_link());
        let packed = pack(&settled_link());
        assert_eq!(
            unpack(&packed).unwrap().records.map(|s| s.is_some()),
            [true, false, false, true, false, true, true]
        );
        // A streamed frame: no content size in its header.
        let mut streamed = vec![VERSION];
        let mut e = zstd::stream::Encoder::new(&mut streamed, LEVEL).unwrap();
        e.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut e, &text).unwrap();
        e.finish().unwrap();
        assert!(unpack(&streamed).is_err());
        // A header saying 2^40 bytes: RFC 8878's frame header with an 8-byte content size
        // (descriptor 0b11_1_00000, single segment) and nothing after it.
        let mut huge = vec![VERSION, 0x28, 0xB5, 0x2F, 0xFD, 0xE0];
        huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&huge[1..]).unwrap(),
            Some(1 << 40)
        );
        assert!(unpack(&huge).is_err());
    }

    #[test]
    fn a_sealed_link_moved_to_another_key_or_sync_does_not_open() {
        let (k, l) = (keys(), settled_link());
        let mut moved = sealed(&k, "workers", &l);
        moved.key_hash = "k2".into();
        assert!(unseal(&k, "workers", &mut moved).is_err());
        let mut other = sealed(&k, "workers", &l);
        assert!(unseal(&k, "secondments", &mut other).is_err());
    }

    #[test]
    fn a_row_of_the_older_form_opens_each_record_from_its_own_column() {
        let k = keys();
        let mut old = Link::new("k1".into());
        old.a.snapshot = Some(k.seal("workers/k1/a", b"{\"n\":1}"));
        old.a.settled = Some(k.seal("workers/k1/a/settled", b"{\"n\":0}"));
        old.b.intent = Some(k.seal("workers/k1/b/intent", b"{\"n\":2}"));
        old.base = Some(k.seal("workers/k1/base", b"{\"n\":0}"));
        unseal(&k, "workers", &mut old).unwrap();
        assert_eq!(old.a.snapshot.as_deref(), Some(&b"{\"n\":1}"[..]));
        assert_eq!(old.a.settled.as_deref(), Some(&b"{\"n\":0}"[..]));
        assert_eq!(old.b.intent.as_deref(), Some(&b"{\"n\":2}"[..]));
        assert_eq!(old.base.as_deref(), Some(&b"{\"n\":0}"[..]));
        // Sealed under another column's context: refused.
        let mut swapped = Link::new("k1".into());
        swapped.a.settled = Some(k.seal("workers/k1/a", b"{}"));
        assert!(unseal(&k, "workers", &mut swapped).is_err());
    }

    #[test]
    fn a_text_cut_short_or_pointing_forward_is_refused() {
        let text = encode(&settled_link());
        let (_, sides) = decode(&text).unwrap();
        assert_eq!(sides, [0; 4], "no times or versions");
        let records = &text[..text.len() - 4];
        assert!(decode(&records[..records.len() - 1]).is_err());
        let mut forward = vec![2, 3];
        forward.extend([0; 5]);
        assert!(decode(&forward).is_err());
        let packed = pack(&settled_link());
        assert!(unpack(&packed).is_ok());
        let form_3 = |t: &[u8]| {
            let frame = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY)
                .unwrap()
                .compress(t)
                .unwrap();
            [&[VERSION][..], &frame].concat()
        };
        assert!(unpack(&form_3(&text)).is_ok());
        assert!(
            unpack(&form_3(&text[..text.len() - 1])).is_err(),
            "side b's version missing"
        );
        assert!(
            unpack(&form_3(&[&text[..], &[0]].concat())).is_err(),
            "a byte after the end"
        );
        assert!(
            unpack(&[&[9u8][..], &packed[1..]].concat()).is_err(),
            "another version"
        );
        assert!(
            unpack(&packed[..packed.len() - 2]).is_err(),
            "a frame cut short"
        );
    }
}
