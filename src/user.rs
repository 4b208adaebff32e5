//! Who a user is, and when two users are the same person.
//!
//! Since 2026 WhatsApp names every user to a business by a business-scoped
//! user ID (BSUID, `US.13491208655302741918`), and a user who adopts a
//! username may hide their phone number (see `docs/platforms.md`, "Users
//! without a visible phone"). So a user is known by a phone, a BSUID, or
//! both. Everything that compares users (the plan, duplicate checks, apply's
//! safety check, matching a platform's answer to what was sent) goes
//! through this file, so the rule is written once:
//!
//! > Two users are the same person when their BSUIDs are equal or their
//! > phones are (the known `wa_id` variants included).

use std::collections::HashMap;
use std::fmt;

use crate::number;

/// A user as a business knows them. At least one of the two is set.
///
/// Both ids live in one allocation (the phone's digits, then the BSUID), so
/// a user costs 24 bytes beside its text rather than two `Option<String>`s'
/// 48: a 64 000-user plan holds several hundred thousand of them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// Canonical digits (see [`number::canonical`]), as written or as
    /// listed, then a BSUID exactly as written or listed (Meta: use the
    /// whole value unchanged).
    text: Box<str>,
    /// Where the phone ends in `text`; [`NO_PHONE`] when there is none.
    phone_len: u32,
    /// Whether a BSUID follows the phone in `text`.
    has_user_id: bool,
}

const NO_PHONE: u32 = u32::MAX;

impl User {
    /// A user known by phone only; `phone` is canonical digits.
    pub fn phone(phone: impl Into<String>) -> User {
        User::of(Some(phone.into()), None)
    }

    /// A user known by BSUID only.
    pub fn bsuid(user_id: impl Into<String>) -> User {
        User::of(None, Some(user_id.into()))
    }

    /// A user from whichever ids are known; `None` when neither is.
    pub fn new(phone: Option<String>, user_id: Option<String>) -> Option<User> {
        (phone.is_some() || user_id.is_some()).then(|| User::of(phone, user_id))
    }

    fn of(phone: Option<String>, user_id: Option<String>) -> User {
        // A phone is at most 15 digits once read; nothing the loaders
        // accept comes near 4 GiB.
        let phone_len = phone
            .as_ref()
            .map_or(NO_PHONE, |p| u32::try_from(p.len()).unwrap_or(NO_PHONE - 1));
        let has_user_id = user_id.is_some();
        let text = match (phone, user_id) {
            (Some(phone), None) => phone,
            (None, Some(user_id)) => user_id,
            (Some(mut phone), Some(user_id)) => {
                phone.reserve_exact(user_id.len());
                phone.push_str(&user_id);
                phone
            }
            (None, None) => String::new(),
        };
        User {
            text: text.into_boxed_str(),
            phone_len,
            has_user_id,
        }
    }

    /// The user a JSON `user` string names (see [`User::id`]): a BSUID, or
    /// phone digits. `None` for text that is neither.
    pub fn from_id(id: &str) -> Option<User> {
        if looks_like_bsuid(id) {
            return is_listed_bsuid(id).then(|| User::bsuid(id));
        }
        number::canonical(id).ok().map(User::phone)
    }

    /// The same user, with a BSUID learnt from elsewhere when it had none.
    pub fn with_user_id(self, user_id: Option<String>) -> User {
        match (self.has_user_id, user_id) {
            (false, Some(user_id)) => {
                User::of(self.phone_digits().map(str::to_string), Some(user_id))
            }
            _ => self,
        }
    }

    pub fn phone_digits(&self) -> Option<&str> {
        match self.phone_len {
            NO_PHONE => None,
            len => self.text.get(..len as usize),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        if !self.has_user_id {
            return None;
        }
        match self.phone_len {
            NO_PHONE => Some(&self.text),
            len => self.text.get(len as usize..),
        }
    }

    /// The one string that names this user in JSON, fingerprints and sorted
    /// lists: the phone when known, else the BSUID. It is also what a block
    /// or unblock sends: the platform takes either, and the phone wins when
    /// both are given, so sending the phone alone says the same.
    pub fn id(&self) -> &str {
        match (self.phone_digits(), self.user_id()) {
            (Some(phone), _) => phone,
            (None, Some(user_id)) => user_id,
            (None, None) => unreachable!("a User always has a phone or a BSUID"),
        }
    }

    /// What one block or unblock item carries (see [`User::id`]).
    pub fn wire(&self) -> Wire<'_> {
        match self.phone_digits() {
            Some(phone) => Wire::Phone(phone),
            None => Wire::UserId(self.id()),
        }
    }

    /// The BSUID beside the phone, when both are known: JSON objects that
    /// name a user carry it as `user_id` next to `user`.
    pub fn extra_user_id(&self) -> Option<&str> {
        self.phone_digits().and(self.user_id())
    }

    /// The same person: equal BSUIDs, or equal phones (variants included).
    pub fn same_person(&self, other: &User) -> bool {
        let ids = matches!((self.user_id(), other.user_id()), (Some(a), Some(b)) if a == b);
        let phones = matches!((self.phone_digits(), other.phone_digits()), (Some(a), Some(b)) if PhoneKey::of(a) == PhoneKey::of(b));
        ids || phones
    }
}

/// Ordered by phone, then BSUID (`None` first), as a pair of options.
impl Ord for User {
    fn cmp(&self, other: &User) -> std::cmp::Ordering {
        (self.phone_digits(), self.user_id()).cmp(&(other.phone_digits(), other.user_id()))
    }
}

impl PartialOrd for User {
    fn partial_cmp(&self, other: &User) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("phone", &self.phone_digits())
            .field("user_id", &self.user_id())
            .finish()
    }
}

/// Text and markdown show a person with both ids as `phone (BSUID)`.
impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.phone_digits(), self.user_id()) {
            (Some(phone), Some(user_id)) => write!(f, "{phone} ({user_id})"),
            _ => f.write_str(self.id()),
        }
    }
}

/// One item of a block or unblock request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire<'a> {
    /// `{"user": "<digits>"}`
    Phone(&'a str),
    /// `{"user_id": "<BSUID>"}`
    UserId(&'a str),
}

/// The key under which two spellings of one phone compare equal.
///
/// WhatsApp IDs are not always the dialled number (`docs/platforms.md`,
/// "Phone numbers and wa_id"):
/// - Mexican mobiles are dialled `52…` but their `wa_id` is `521…`;
/// - older Brazilian mobiles may have a `wa_id` without the ninth digit
///   (`55` + area + 8 digits instead of `55` + area + `9` + 8 digits).
///
/// Comparing raw strings would show such users as "to block" forever, so
/// users are compared by these keys instead. The key is the shorter spelling.
pub fn phone_key(canonical: &str) -> String {
    match variant_digit(canonical) {
        Some(drop_at) => {
            let mut key = String::with_capacity(canonical.len() - 1);
            key.push_str(&canonical[..drop_at]);
            key.push_str(&canonical[drop_at + 1..]);
            key
        }
        None => canonical.to_string(),
    }
}

/// [`phone_key`] without allocating: the shorter spelling's digits as a
/// number. Canonical digits (8 to 15, no leading zero, see
/// [`number::canonical`]) fit a `u64` one to one; anything else (a test's
/// odd value echoed back) keeps its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhoneKey {
    Digits(u64),
    Text(Box<str>),
}

impl PhoneKey {
    pub fn of(canonical: &str) -> PhoneKey {
        let b = canonical.as_bytes();
        let plain = (1..=15).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit);
        if !plain {
            return PhoneKey::Text(phone_key(canonical).into_boxed_str());
        }
        let skip = variant_digit(canonical);
        let mut n = 0u64;
        for (i, d) in b.iter().enumerate() {
            if Some(i) != skip {
                n = n * 10 + u64::from(d - b'0');
            }
        }
        PhoneKey::Digits(n)
    }
}

/// Hashes [`PhoneKey`]s (and other small keys) in a few instructions where
/// SipHash takes a hundred: a multiply folded to 64 bits, keyed per process
/// from the standard library's random seed, so the buckets a list of phone
/// numbers lands in cannot be chosen in advance.
#[derive(Clone, Copy, Debug)]
pub struct FastKeys(u64);

impl Default for FastKeys {
    fn default() -> FastKeys {
        use std::hash::BuildHasher;
        use std::sync::OnceLock;
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed =
            SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
        FastKeys(*seed | 1)
    }
}

impl std::hash::BuildHasher for FastKeys {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            state: 0,
            seed: self.0,
        }
    }
}

/// The hasher [`FastKeys`] builds.
#[derive(Debug)]
pub struct FastHasher {
    state: u64,
    seed: u64,
}

impl FastHasher {
    fn mix(&mut self, word: u64) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let m =
            u128::from(self.state ^ word ^ self.seed) * u128::from(K ^ self.seed.rotate_left(29));
        self.state = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        self.mix(bytes.len() as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }
}

/// Index of the digit to drop to reach the shorter spelling, if this is the
/// longer spelling of a known variant pair.
fn variant_digit(d: &str) -> Option<usize> {
    let b = d.as_bytes();
    if b.len() != 13 {
        return None;
    }
    // Mexico: 52 1 + 10 digits  ->  52 + 10 digits.
    if d.starts_with("521") {
        return Some(2);
    }
    // Brazil: 55 + area(2) + 9 + 8-digit mobile subscriber (first digit 6-9)
    //   ->  55 + area(2) + 8 digits.
    if d.starts_with("55") && b[4] == b'9' && (b'6'..=b'9').contains(&b[5]) {
        return Some(4);
    }
    None
}

/// Finds values stored under users by either id: the one place where "the
/// same person" is looked up rather than compared pairwise. Phones are
/// filed by [`PhoneKey`] and BSUIDs looked up by `&str`, so a lookup
/// allocates nothing.
#[derive(Debug, Clone)]
pub struct Lookup<V> {
    by_phone: HashMap<PhoneKey, V, FastKeys>,
    by_user_id: HashMap<Box<str>, V>,
}

impl<V> Default for Lookup<V> {
    fn default() -> Self {
        Lookup {
            by_phone: HashMap::default(),
            by_user_id: HashMap::new(),
        }
    }
}

impl<V: Clone> Lookup<V> {
    pub fn with_capacity(n: usize) -> Self {
        Lookup {
            by_phone: HashMap::with_capacity_and_hasher(n, FastKeys::default()),
            by_user_id: HashMap::new(),
        }
    }

    /// File `value` under each id of `user`; an id already filed keeps its
    /// first value.
    pub fn insert(&mut self, user: &User, value: V) {
        if let Some(phone) = user.phone_digits() {
            self.by_phone
                .entry(PhoneKey::of(phone))
                .or_insert(value.clone());
        }
        if let Some(user_id) = user.user_id()
            && !self.by_user_id.contains_key(user_id)
        {
            self.by_user_id.insert(user_id.into(), value);
        }
    }

    /// The values filed under `user`'s phone and under its BSUID: none, one,
    /// or two (when the two ids were filed by different users, which `user`
    /// now ties together). The phone's comes first.
    pub fn matches(&self, user: &User) -> Matches<'_, V> {
        let by_phone = match user.phone_digits() {
            Some(p) if !self.by_phone.is_empty() => self.by_phone.get(&PhoneKey::of(p)),
            _ => None,
        };
        let by_user_id = match user.user_id() {
            Some(id) if !self.by_user_id.is_empty() => self.by_user_id.get(id),
            _ => None,
        };
        Matches([by_phone, by_user_id])
    }

    /// The first value filed under either id of `user`.
    pub fn get(&self, user: &User) -> Option<&V> {
        self.matches(user).first()
    }

    pub fn contains(&self, user: &User) -> bool {
        self.get(user).is_some()
    }
}

/// What [`Lookup::matches`] found: at most one value per id.
pub struct Matches<'a, V>([Option<&'a V>; 2]);

impl<'a, V> Matches<'a, V> {
    pub fn first(&self) -> Option<&'a V> {
        self.0[0].or(self.0[1])
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a V> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// Why a value is not a BSUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BsuidError {
    /// `CC.ENT.…`: an enterprise's parent id, which the platform cannot block by.
    Parent,
    /// Not `CC.` followed by 1 to 128 letters and digits.
    Form,
}

impl fmt::Display for BsuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BsuidError::Parent => f.write_str(
                "is a parent BSUID (CC.ENT.…), which the platform cannot block or unblock; use the user's own BSUID",
            ),
            BsuidError::Form => f.write_str(&format!(
                "is not a BSUID (two capital letters for the country, a period, then 1 to {MAX_BSUID_TAIL} letters and digits, e.g. US.13491208655302741918)"
            )),
        }
    }
}

/// At most this many letters and digits follow the country and period.
const MAX_BSUID_TAIL: usize = 128;

/// Does `text` look like an attempt at a BSUID rather than a phone number?
/// Two letters and a period start every BSUID; no phone number has them.
pub fn looks_like_bsuid(text: &str) -> bool {
    let b = text.trim().as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1].is_ascii_alphabetic() && b[2] == b'.'
}

/// Check a BSUID: two uppercase letters (the country), a period, then 1 to
/// 128 ASCII letters and digits. It is kept exactly as given.
pub fn bsuid(text: &str) -> Result<&str, BsuidError> {
    let b = text.as_bytes();
    let country = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase();
    if !country || b[2] != b'.' {
        return Err(BsuidError::Form);
    }
    let tail = &text[3..];
    if tail.starts_with("ENT.") {
        return Err(BsuidError::Parent);
    }
    let ok = (1..=MAX_BSUID_TAIL).contains(&tail.len())
        && tail.bytes().all(|c| c.is_ascii_alphanumeric());
    if ok { Ok(text) } else { Err(BsuidError::Form) }
}

/// A BSUID as a server gives it. Read more leniently than a file's (Meta
/// may widen the form; a listing must not stop for that), but never text
/// that could break a line of output or a request: letters, digits and
/// `.`, `_`, `-` only.
fn is_listed_bsuid(text: &str) -> bool {
    (1..=256).contains(&text.len())
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

/// A user as a server lists or answers it: a phone (any spelling the API
/// uses) and/or a BSUID. `Err` says which value is not what it claims to be.
pub fn from_server(wa_id: Option<&str>, user_id: Option<&str>) -> Result<Option<User>, String> {
    let wa_id = wa_id.filter(|w| !w.is_empty());
    let user_id = user_id.filter(|u| !u.is_empty());
    let phone = match wa_id {
        Some(raw) => Some(number::canonical(raw).map_err(|e| format!("wa_id {raw:?} {e}"))?),
        None => None,
    };
    let user_id = match user_id {
        Some(raw) if is_listed_bsuid(raw) => Some(raw.to_string()),
        Some(raw) => return Err(format!("user_id {raw:?} is not a BSUID")),
        None => None,
    };
    Ok(User::new(phone, user_id))
}

/// [`from_server`] for ids a reply already owns: a `wa_id` that is already
/// canonical digits, as Meta sends them, becomes the user's phone as it is,
/// with no copy; anything else is read exactly as [`from_server`] reads it.
pub fn from_server_owned(
    wa_id: Option<String>,
    user_id: Option<String>,
) -> Result<Option<User>, String> {
    let wa_id = wa_id.filter(|w| !w.is_empty());
    let user_id = user_id.filter(|u| !u.is_empty());
    let phone = match wa_id {
        Some(raw) if is_canonical(&raw) => Some(raw),
        Some(raw) => Some(number::canonical(&raw).map_err(|e| format!("wa_id {raw:?} {e}"))?),
        None => None,
    };
    let user_id = match user_id {
        Some(raw) if is_listed_bsuid(&raw) => Some(raw),
        Some(raw) => return Err(format!("user_id {raw:?} is not a BSUID")),
        None => None,
    };
    Ok(User::new(phone, user_id))
}

/// Already what [`number::canonical`] would make of it.
fn is_canonical(digits: &str) -> bool {
    let b = digits.as_bytes();
    (number::MIN_DIGITS..=number::MAX_DIGITS).contains(&b.len())
        && b[0] != b'0'
        && b.iter().all(u8::is_ascii_digit)
}

/// Tests write users as strings: digits, or a BSUID (anything else is taken
/// as a phone as is, for tests of replies that echo odd values).
#[cfg(test)]
impl From<&str> for User {
    fn from(id: &str) -> User {
        User::from_id(id).unwrap_or_else(|| User::phone(id))
    }
}

/// Tests compare a user with the string that names a one-id user.
#[cfg(test)]
impl PartialEq<&str> for User {
    fn eq(&self, other: &&str) -> bool {
        self.id() == *other && self.extra_user_id().is_none()
    }
}

#[cfg(test)]
impl PartialEq<String> for User {
    fn eq(&self, other: &String) -> bool {
        *self == other.as_str()
    }
}

/// The ids of `users`, for tests that compare lists.
#[cfg(test)]
pub fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(User::id).collect()
}

/// Users known by phone only, from digits, for tests.
#[cfg(test)]
pub fn phones(list: &[&str]) -> Vec<User> {
    list.iter().map(|p| User::phone(*p)).collect()
}

#[cfg(test)]
mod tests;
