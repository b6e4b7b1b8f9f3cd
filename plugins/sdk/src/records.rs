//! Typed records of the shared schemas, generated from `schemas/*.json` by typify
//! (`tests/typed_records.rs`, which fails when this file is not what the schemas give).
//! Do not edit: change a schema and regenerate.
//!
//! The schemas' `pattern`s are not checked here: the hub checks them.

///Calendar date, RFC 3339 full-date (YYYY-MM-DD). A date without time is a day in China Standard Time (UTC+8).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct Date(pub ::std::string::String);
impl ::std::ops::Deref for Date {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Date> for ::std::string::String {
    fn from(value: Date) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for Date {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for Date {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for Date {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///Instant, RFC 3339 date-time with its offset always written: 2021-09-02T10:00:00+08:00 (China Standard Time, UTC+8, no daylight saving) or ...Z for UTC. Local times without an offset are not accepted: connectors add the offset the system means.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct DateTime(pub ::std::string::String);
impl ::std::ops::Deref for DateTime {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<DateTime> for ::std::string::String {
    fn from(value: DateTime) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for DateTime {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for DateTime {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///Administrative division code, GB/T 2260: 6 digits, a code in use or used since 1981.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct DivisionCode(pub ::std::string::String);
impl ::std::ops::Deref for DivisionCode {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<DivisionCode> for ::std::string::String {
    fn from(value: DivisionCode) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for DivisionCode {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for DivisionCode {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///E-mail address, RFC 5321 mailbox (format email), at most 254 characters.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct Email(::std::string::String);
impl ::std::ops::Deref for Email {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Email> for ::std::string::String {
    fn from(value: Email) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for Email {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 254usize {
            return Err("longer than 254 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for Email {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Email {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for Email {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///An employer registered with Huiyang's enterprise register (HY-ESMS enterprises): the hiringOrganization of job postings and the employer of workers. Field names follow schema.org Organization where they fit. Natural key: the unified social credit code. HY-ESMS mapping: uscc → uscc, name → name, address → address, contactName → contactPoint.name, contactPhone → contactPoint.telephone; its id and updatedAt are the record's remote id and version, not fields.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    ///Postal address as one line of text (schema.org address as Text), e.g. 惠州市惠阳区淡水街道….
    pub address: ::std::option::Option<Text>,
    ///The person the bureaus contact about the enterprise's hiring (schema.org ContactPoint). At least one of its fields is given.
    #[serde(rename = "contactPoint")]
    pub contact_point: ::std::option::Option<EnterpriseContactPoint>,
    ///Registered name (企业名称), e.g. 伯恩光学(惠州)有限公司; full-width parentheses are written as the register has them.
    pub name: Name,
    ///Unified social credit code (统一社会信用代码), GB 32100-2015, upper-case: the natural key. schema.org taxID: the code is also the enterprise's taxpayer number.
    pub uscc: Uscc,
}
///`EnterpriseContactPoint`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseContactPoint {
    ///Contact e-mail address.
    pub email: ::std::option::Option<Email>,
    ///Contact person's name (联系人).
    pub name: ::std::option::Option<Name>,
    ///Contact telephone (联系电话): a mobile or fixed-line number in canonical form.
    pub telephone: ::std::option::Option<::std::string::String>,
}
///Mainland fixed-line number in canonical form: the trunk prefix 0, the area code and the subscriber number as digits alone (no +86, spaces, dashes or parentheses). Area codes 10 and 20-29 have 2 digits and are followed by 8 subscriber digits (e.g. 02012345678); the others have 3 digits followed by 7 or 8 (e.g. 07522345678 in Huizhou, 08596612345 in Qianxinan). Subscriber numbers do not begin with 0 or 1.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct FixedLine(::std::string::String);
impl ::std::ops::Deref for FixedLine {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<FixedLine> for ::std::string::String {
    fn from(value: FixedLine) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for FixedLine {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for FixedLine {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for FixedLine {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for FixedLine {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Administrative gender as HL7 FHIR R4 AdministrativeGender codes male and female (ISO/IEC 5218 codes 1 and 2; 男 and 女).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum Gender {
    #[serde(rename = "male")]
    Male,
    #[serde(rename = "female")]
    Female,
}
impl ::std::fmt::Display for Gender {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Male => f.write_str("male"),
            Self::Female => f.write_str("female"),
        }
    }
}
impl ::std::str::FromStr for Gender {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "male" => Ok(Self::Male),
            "female" => Ok(Self::Female),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for Gender {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Gender {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///An identifier a system gave a record, as a schema.org PropertyValue: propertyID names the system that issued it, value is its id there as text (an integer id is written in decimal, e.g. "42").
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    #[serde(rename = "propertyID")]
    pub property_id: SystemId,
    ///The id in the issuing system: 1 to 64 printable ASCII characters, no spaces.
    pub value: IdentifierValue,
}
///The id in the issuing system: 1 to 64 printable ASCII characters, no spaces.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct IdentifierValue(::std::string::String);
impl ::std::ops::Deref for IdentifierValue {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<IdentifierValue> for ::std::string::String {
    fn from(value: IdentifierValue) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for IdentifierValue {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for IdentifierValue {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for IdentifierValue {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for IdentifierValue {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A vacancy a Huiyang enterprise offers (企业用工信息), published by HY-ESMS and shown on the ZF-REG job board. Field names follow schema.org JobPosting (identifier, title, hiringOrganization, baseSalary, jobLocation, datePosted, validThrough, totalJobOpenings, qualifications); status is the hub's own. Natural key: the origin system and its id. HY-ESMS jobs mapping: id → identifier {HY-ESMS, id}, enterpriseId → hiringOrganization (name and uscc from the enterprises register), title → title, headcount → totalJobOpenings, salaryMin/salaryMax → baseSalary.value.minValue/maxValue, workLocation → jobLocation.address, requirements → qualifications, publishedAt → datePosted, validUntil → validThrough, status → status. ZF-REG job board: wbbh ↔ identifier.value (the partner system's id), qymc/xydm ↔ hiringOrganization.name/uscc, gwmc ↔ title, zprs ↔ totalJobOpenings, xzfw (text such as 4000-6000元/月) ↔ baseSalary, gzdd ↔ jobLocation.address, jzrq ↔ validThrough, zt 1/0 ↔ status open/closed.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct JobPosting {
    ///Monthly pay offered (schema.org baseSalary as MonetaryAmount): in Chinese yuan (currency CNY, ISO 4217), whole yuan per calendar month (unitText MONTH); a range when both ends are given, an open range when only one is. null when the posting gives no figure (e.g. 面议, negotiable).
    #[serde(rename = "baseSalary")]
    pub base_salary: ::std::option::Option<JobPostingBaseSalary>,
    ///Day the posting was published (schema.org datePosted; HY publishedAt), China Standard Time.
    #[serde(rename = "datePosted")]
    pub date_posted: ::std::option::Option<Date>,
    #[serde(rename = "hiringOrganization")]
    pub hiring_organization: JobPostingHiringOrganization,
    ///The system where the posting originates and its id there (schema.org identifier as PropertyValue), e.g. {"propertyID": "HY-ESMS", "value": "42"}: the natural key. Other systems keep it as the partner's id (ZF-REG wbbh).
    pub identifier: Identifier,
    ///Where the work is done (schema.org jobLocation as a Place): the address as one line of text and, when known, the GB/T 2260 code of its county (e.g. 441303 for 惠阳区).
    #[serde(rename = "jobLocation")]
    pub job_location: ::std::option::Option<JobPostingJobLocation>,
    ///Requirements for candidates as free text (岗位要求; schema.org qualifications; HY requirements).
    pub qualifications: ::std::option::Option<LongText>,
    ///open: accepting applications (HY open, ZF zt 1); closed: no longer (HY closed, ZF zt 0).
    pub status: JobPostingStatus,
    ///Post title (岗位名称), e.g. 普工, 质检员.
    pub title: Text,
    ///Number of people hired for the post (招聘人数; schema.org totalJobOpenings; HY headcount, ZF zprs), at least 1.
    #[serde(rename = "totalJobOpenings")]
    pub total_job_openings: ::std::num::NonZeroU64,
    ///Last day (inclusive) applications are accepted (schema.org validThrough at date precision; HY validUntil, ZF jzrq 截止日期), China Standard Time; not before datePosted.
    #[serde(rename = "validThrough")]
    pub valid_through: Date,
}
///`JobPostingBaseSalary`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct JobPostingBaseSalary {
    ///ISO 4217 currency code: always CNY (元).
    pub currency: ::serde_json::Value,
    pub value: JobPostingBaseSalaryValue,
}
///schema.org QuantitativeValue: minValue and/or maxValue in whole yuan, unitText MONTH; minValue is not greater than maxValue.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct JobPostingBaseSalaryValue {
    ///Highest monthly pay, whole yuan (HY salaryMax).
    #[serde(rename = "maxValue")]
    pub max_value: ::std::option::Option<i64>,
    ///Lowest monthly pay, whole yuan (HY salaryMin).
    #[serde(rename = "minValue")]
    pub min_value: ::std::option::Option<i64>,
    ///The period the amount is paid for, as schema.org writes it: MONTH.
    #[serde(rename = "unitText")]
    pub unit_text: ::serde_json::Value,
}
///The enterprise offering the post (schema.org hiringOrganization): its registered name and unified social credit code, the key of an enterprise record.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct JobPostingHiringOrganization {
    ///Registered name (企业名称).
    pub name: Name,
    ///Unified social credit code, GB 32100-2015.
    pub uscc: Uscc,
}
///`JobPostingJobLocation`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct JobPostingJobLocation {
    ///Workplace address (工作地点, HY workLocation, ZF gzdd).
    pub address: Text,
    ///GB/T 2260 code of the county-level division of the workplace.
    #[serde(rename = "countyCode")]
    pub county_code: ::std::option::Option<DivisionCode>,
}
///open: accepting applications (HY open, ZF zt 1); closed: no longer (HY closed, ZF zt 0).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum JobPostingStatus {
    #[serde(rename = "open")]
    Open,
    #[serde(rename = "closed")]
    Closed,
}
impl ::std::fmt::Display for JobPostingStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Open => f.write_str("open"),
            Self::Closed => f.write_str("closed"),
        }
    }
}
impl ::std::str::FromStr for JobPostingStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for JobPostingStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for JobPostingStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///Free text of up to 2,000 characters, line breaks allowed inside, no blank at either end.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct LongText(::std::string::String);
impl ::std::ops::Deref for LongText {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<LongText> for ::std::string::String {
    fn from(value: LongText) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for LongText {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 2000usize {
            return Err("longer than 2000 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for LongText {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for LongText {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for LongText {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Mainland mobile number in canonical form: the 11 digits alone, no +86, spaces or dashes.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct Mobile(pub ::std::string::String);
impl ::std::ops::Deref for Mobile {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Mobile> for ::std::string::String {
    fn from(value: Mobile) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for Mobile {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for Mobile {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for Mobile {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///A person's or organisation's name as written, with no blank (ASCII or ideographic U+3000) at either end.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct Name(::std::string::String);
impl ::std::ops::Deref for Name {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Name> for ::std::string::String {
    fn from(value: Name) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for Name {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 100usize {
            return Err("longer than 100 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for Name {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Name {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for Name {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///An organisation by name and, when known, unified social credit code.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: Name,
    pub uscc: ::std::option::Option<Uscc>,
}
///A span of calendar days, as HL7 FHIR R4 Period with date precision: start and, once known, end (both inclusive); end is not before start.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub end: ::std::option::Option<Date>,
    pub start: Date,
}
///A job seeker introduced to a post (人岗匹配, job introduction management 职业介绍管理) and how far it got. Natural key: the worker's key and the job posting's key. HY-ESMS referrals mapping: workerIdNo → worker.idNumber, jobId → jobPosting.identifier {HY-ESMS, jobId}, status → status, note → note; its id, deleted and updatedAt are the record's remote id, soft delete and version, not fields. Personal information (the worker's identity number): never logged in clear.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    #[serde(rename = "jobPosting")]
    pub job_posting: ReferralJobPosting,
    ///Free-text note kept with the referral (备注), up to 500 characters.
    pub note: ::std::option::Option<ReferralNote>,
    ///Where the referral stands: recommended (推荐), interviewed (已面试), hired (已录用), rejected (未录用: the employer declined), withdrawn (撤回: the worker or the bureau withdrew).
    pub status: ReferralStatus,
    pub worker: ReferralWorker,
}
///The post, by the key of its job-posting record.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReferralJobPosting {
    ///Origin system and id of the posting (HY jobId with propertyID HY-ESMS).
    pub identifier: Identifier,
}
///`ReferralNote`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct ReferralNote(::std::string::String);
impl ::std::ops::Deref for ReferralNote {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ReferralNote> for ::std::string::String {
    fn from(value: ReferralNote) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for ReferralNote {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 500usize {
            return Err("longer than 500 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for ReferralNote {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ReferralNote {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for ReferralNote {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Where the referral stands: recommended (推荐), interviewed (已面试), hired (已录用), rejected (未录用: the employer declined), withdrawn (撤回: the worker or the bureau withdrew).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum ReferralStatus {
    #[serde(rename = "recommended")]
    Recommended,
    #[serde(rename = "interviewed")]
    Interviewed,
    #[serde(rename = "hired")]
    Hired,
    #[serde(rename = "rejected")]
    Rejected,
    #[serde(rename = "withdrawn")]
    Withdrawn,
}
impl ::std::fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Recommended => f.write_str("recommended"),
            Self::Interviewed => f.write_str("interviewed"),
            Self::Hired => f.write_str("hired"),
            Self::Rejected => f.write_str("rejected"),
            Self::Withdrawn => f.write_str("withdrawn"),
        }
    }
}
impl ::std::str::FromStr for ReferralStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "recommended" => Ok(Self::Recommended),
            "interviewed" => Ok(Self::Interviewed),
            "hired" => Ok(Self::Hired),
            "rejected" => Ok(Self::Rejected),
            "withdrawn" => Ok(Self::Withdrawn),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ReferralStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ReferralStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///The person introduced, by the key of their worker record.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReferralWorker {
    ///Resident identity number, GB 11643-1999 (HY workerIdNo).
    #[serde(rename = "idNumber")]
    pub id_number: ResidentId,
}
///Resident identity number (居民身份证号码), GB 11643-1999: 18 characters, a GB/T 2260 division code (possibly retired since), a real birth date YYYYMMDD, a 3-digit sequence and an ISO 7064 MOD 11-2 check character, upper-case X only. Legacy 15-digit numbers are upgraded by the connector before they get here.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct ResidentId(pub ::std::string::String);
impl ::std::ops::Deref for ResidentId {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ResidentId> for ::std::string::String {
    fn from(value: ResidentId) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for ResidentId {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for ResidentId {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for ResidentId {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///One stay of a Huiyang clinician at a Zhenfeng health facility in one batch of the medical talent programme (医疗人才帮扶). Field names follow HL7 FHIR R4 PractitionerRole where they fit (practitioner, organization, period, specialty, active; batch is the roster's extension http://example.org/fhir/StructureDefinition/secondment-batch); the plan fields are HY-ESMS's. Natural key: the clinician's identity number and the batch. HY-ESMS secondments mapping: idNo/name/gender/phone → practitioner.idNumber/name/gender/phone, profession → practitioner.qualification.text, sendingOrg → sendingOrganization.name, hostFacility → organization.name, batch → batch, startDate → period.start, endDate → plannedEnd, actualEndDate → period.end, department → specialty, status → status, honours → honours; id, deleted and updatedAt are the record's remote id, soft delete and version. MED-ROSTER mapping: Practitioner identifier (system urn:cn:resident-id) → practitioner.idNumber, name.text → practitioner.name, gender → practitioner.gender, telecom phone/email → practitioner.phone/email, qualification code.text/issuer → practitioner.qualification; PractitionerRole organization (Organization identifier urn:cn:uscc) → organization, period → period, specialty text → specialty, active → active, the batch extension's valueInteger → batch. Personal information: never logged in clear.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Secondment {
    ///Whether the role is in active use (FHIR PractitionerRole.active): true while serving.
    pub active: ::std::option::Option<bool>,
    ///Batch of the programme (批次) the stay belongs to, from 1 (batches 1-4 so far; FHIR extension secondment-batch valueInteger; HY batch).
    pub batch: ::std::num::NonZeroU64,
    ///Honours received during the stay (荣誉), e.g. pennants (锦旗), each as text, in the order HY-ESMS lists them; an empty list when none.
    #[serde(default)]
    pub honours: ::std::vec::Vec<Text>,
    pub organization: SecondmentOrganization,
    ///The stay as it happens (FHIR PractitionerRole.period, days inclusive, China Standard Time): start is the first day of service (HY startDate); end is the actual last day, null until known (HY actualEndDate).
    pub period: Period,
    ///The planned last day of the stay (HY endDate, planned), not before period.start.
    #[serde(rename = "plannedEnd")]
    pub planned_end: ::std::option::Option<Date>,
    pub practitioner: SecondmentPractitioner,
    ///The Huiyang organisation that sends the clinician (派出单位; HY sendingOrg), e.g. 惠阳区中医院 (Huiyang District TCM Hospital).
    #[serde(rename = "sendingOrganization")]
    pub sending_organization: ::std::option::Option<Organization>,
    ///Department or specialty the clinician works in at the host (FHIR PractitionerRole.specialty text; HY department), e.g. 康复科.
    pub specialty: ::std::option::Option<Text>,
    ///Where the stay stands in HY-ESMS's plan: planned (not yet started), serving (在岗), completed (ended). Connectors map FHIR active true to serving; false to planned before period.start and to completed after.
    pub status: ::std::option::Option<SecondmentStatus>,
}
///The host facility in Zhenfeng where the clinician serves (FHIR PractitionerRole.organization; HY hostFacility, by name): one of the five host facilities, with its unified social credit code when known (FHIR Organization identifier with system urn:cn:uscc).
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct SecondmentOrganization {
    ///The facility's name: 贞丰县人民医院 (County People's Hospital), 贞丰县民族中医院 (Ethnic Traditional Chinese Medicine Hospital), 贞丰县妇幼保健院 (Maternal and Child Health Hospital), 永丰街道社区卫生服务中心 or 珉谷街道社区卫生服务中心 (community health centres).
    pub name: SecondmentOrganizationName,
    ///Unified social credit code, GB 32100-2015.
    pub uscc: ::std::option::Option<Uscc>,
}
///The facility's name: 贞丰县人民医院 (County People's Hospital), 贞丰县民族中医院 (Ethnic Traditional Chinese Medicine Hospital), 贞丰县妇幼保健院 (Maternal and Child Health Hospital), 永丰街道社区卫生服务中心 or 珉谷街道社区卫生服务中心 (community health centres).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum SecondmentOrganizationName {
    贞丰县人民医院,
    贞丰县民族中医院,
    贞丰县妇幼保健院,
    永丰街道社区卫生服务中心,
    珉谷街道社区卫生服务中心,
}
impl ::std::fmt::Display for SecondmentOrganizationName {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::贞丰县人民医院 => f.write_str("贞丰县人民医院"),
            Self::贞丰县民族中医院 => f.write_str("贞丰县民族中医院"),
            Self::贞丰县妇幼保健院 => f.write_str("贞丰县妇幼保健院"),
            Self::永丰街道社区卫生服务中心 => {
                f.write_str("永丰街道社区卫生服务中心")
            }
            Self::珉谷街道社区卫生服务中心 => {
                f.write_str("珉谷街道社区卫生服务中心")
            }
        }
    }
}
impl ::std::str::FromStr for SecondmentOrganizationName {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "贞丰县人民医院" => Ok(Self::贞丰县人民医院),
            "贞丰县民族中医院" => Ok(Self::贞丰县民族中医院),
            "贞丰县妇幼保健院" => Ok(Self::贞丰县妇幼保健院),
            "永丰街道社区卫生服务中心" => {
                Ok(Self::永丰街道社区卫生服务中心)
            }
            "珉谷街道社区卫生服务中心" => {
                Ok(Self::珉谷街道社区卫生服务中心)
            }
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for SecondmentOrganizationName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for SecondmentOrganizationName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///The clinician (FHIR Practitioner, once per person).
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct SecondmentPractitioner {
    ///E-mail address (FHIR telecom with system email).
    pub email: ::std::option::Option<Email>,
    ///FHIR AdministrativeGender male or female (HY M/F).
    pub gender: ::std::option::Option<Gender>,
    ///Resident identity number, GB 11643-1999 (FHIR identifier with system urn:cn:resident-id; HY idNo).
    #[serde(rename = "idNumber")]
    pub id_number: ResidentId,
    ///Name in Chinese (FHIR name.text; HY name).
    pub name: Name,
    ///Mobile number (FHIR telecom with system phone; HY phone).
    pub phone: ::std::option::Option<Mobile>,
    ///The professional qualification the clinician serves under (FHIR Practitioner.qualification; HY profession).
    pub qualification: ::std::option::Option<SecondmentPractitionerQualification>,
}
///`SecondmentPractitionerQualification`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct SecondmentPractitionerQualification {
    ///Name of the organisation that issued it (FHIR qualification.issuer display), when the roster records it.
    pub issuer: ::std::option::Option<Name>,
    ///The qualification as text (FHIR code.text), e.g. 中医师 (TCM physician), 康复治疗师 (rehabilitation therapist), 儿科医师 (paediatrician).
    pub text: Text,
}
///`SecondmentStatus`
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum SecondmentStatus {
    #[serde(rename = "planned")]
    Planned,
    #[serde(rename = "serving")]
    Serving,
    #[serde(rename = "completed")]
    Completed,
}
impl ::std::fmt::Display for SecondmentStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Planned => f.write_str("planned"),
            Self::Serving => f.write_str("serving"),
            Self::Completed => f.write_str("completed"),
        }
    }
}
impl ::std::str::FromStr for SecondmentStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "planned" => Ok(Self::Planned),
            "serving" => Ok(Self::Serving),
            "completed" => Ok(Self::Completed),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for SecondmentStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for SecondmentStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///Short name of a source system, upper-case letters and digits in dash-separated parts: HY-ESMS (Huiyang employment service management system), ZF-REG (Zhenfeng registry of residents working away), MED-ROSTER (Zhenfeng medical staff roster).
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct SystemId(::std::string::String);
impl ::std::ops::Deref for SystemId {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<SystemId> for ::std::string::String {
    fn from(value: SystemId) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for SystemId {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 32usize {
            return Err("longer than 32 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for SystemId {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for SystemId {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for SystemId {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Short free text with no blank at either end.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct Text(::std::string::String);
impl ::std::ops::Deref for Text {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Text> for ::std::string::String {
    fn from(value: Text) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for Text {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 200usize {
            return Err("longer than 200 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for Text {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Text {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for Text {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters over 0-9 A-H J-N P-R T-U W-Y with a mod-31 check character.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
#[serde(transparent)]
pub struct Uscc(pub ::std::string::String);
impl ::std::ops::Deref for Uscc {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Uscc> for ::std::string::String {
    fn from(value: Uscc) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::string::String> for Uscc {
    fn from(value: ::std::string::String) -> Self {
        Self(value)
    }
}
impl ::std::fmt::Display for Uscc {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        self.0.fmt(f)
    }
}
impl ::std::str::FromStr for Uscc {
    type Err = ::std::convert::Infallible;
    fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
        Ok(Self(value.to_string()))
    }
}
///A Zhenfeng resident working away from home, as both bureaus track them: the registry's record (贞丰县外出务工人员登记) and Huiyang's module for Zhenfeng workers (贞丰务工人员信息). Personal information: never logged in clear.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    ///The employing enterprise (务工单位, 单位信用代码); either part may be unknown.
    pub employer: ::std::option::Option<WorkerEmployer>,
    ///Gender (性别): ZF 男/女 (form 1/2), HY M/F.
    pub gender: Gender,
    ///Date the current employment began.
    #[serde(rename = "hiredOn")]
    pub hired_on: ::std::option::Option<Date>,
    ///Township or street of household registration (户籍乡镇), e.g. 珉谷街道.
    #[serde(rename = "hometownTownship")]
    pub hometown_township: ::std::option::Option<Text>,
    ///Resident identity number (居民身份证号码, ZF 身份证号, HY idNo), GB 11643-1999, canonical 18 characters: the natural key.
    #[serde(rename = "idNumber")]
    pub id_number: ResidentId,
    ///Name as on the identity card (姓名).
    pub name: Name,
    ///Contact mobile number.
    pub phone: ::std::option::Option<Mobile>,
    ///Job or trade (工种 / position).
    pub position: ::std::option::Option<Text>,
    ///Date of registration in the Zhenfeng registry (登记日期).
    #[serde(rename = "registeredOn")]
    pub registered_on: ::std::option::Option<Date>,
    ///Zhenfeng registry number (登记编号), ZF + year + 6 digits.
    #[serde(rename = "registryNumber")]
    pub registry_number: ::std::option::Option<WorkerRegistryNumber>,
    ///Free-text remark kept by Huiyang.
    pub remark: ::std::option::Option<WorkerRemark>,
    ///Employment status. employed: in work (ZF 1 在岗, HY employed); seeking: looking for work (ZF 2 待业, HY seeking); returned_home: back in Zhenfeng (ZF 3 返乡); lost_contact: the bureau cannot reach them (ZF 9 失联); left: left the Huiyang job (HY left). Each connector documents how it maps the values its system lacks.
    pub status: WorkerStatus,
    ///Where the resident works (务工省份, 务工县区代码).
    pub workplace: ::std::option::Option<WorkerWorkplace>,
}
///`WorkerEmployer`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkerEmployer {
    pub name: ::std::option::Option<Name>,
    pub uscc: ::std::option::Option<Uscc>,
}
///`WorkerRegistryNumber`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct WorkerRegistryNumber(::std::string::String);
impl ::std::ops::Deref for WorkerRegistryNumber {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<WorkerRegistryNumber> for ::std::string::String {
    fn from(value: WorkerRegistryNumber) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for WorkerRegistryNumber {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for WorkerRegistryNumber {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WorkerRegistryNumber {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for WorkerRegistryNumber {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///`WorkerRemark`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct WorkerRemark(::std::string::String);
impl ::std::ops::Deref for WorkerRemark {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<WorkerRemark> for ::std::string::String {
    fn from(value: WorkerRemark) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for WorkerRemark {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 500usize {
            return Err("longer than 500 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for WorkerRemark {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WorkerRemark {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for WorkerRemark {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Employment status. employed: in work (ZF 1 在岗, HY employed); seeking: looking for work (ZF 2 待业, HY seeking); returned_home: back in Zhenfeng (ZF 3 返乡); lost_contact: the bureau cannot reach them (ZF 9 失联); left: left the Huiyang job (HY left). Each connector documents how it maps the values its system lacks.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum WorkerStatus {
    #[serde(rename = "employed")]
    Employed,
    #[serde(rename = "seeking")]
    Seeking,
    #[serde(rename = "returned_home")]
    ReturnedHome,
    #[serde(rename = "lost_contact")]
    LostContact,
    #[serde(rename = "left")]
    Left,
}
impl ::std::fmt::Display for WorkerStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Employed => f.write_str("employed"),
            Self::Seeking => f.write_str("seeking"),
            Self::ReturnedHome => f.write_str("returned_home"),
            Self::LostContact => f.write_str("lost_contact"),
            Self::Left => f.write_str("left"),
        }
    }
}
impl ::std::str::FromStr for WorkerStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "employed" => Ok(Self::Employed),
            "seeking" => Ok(Self::Seeking),
            "returned_home" => Ok(Self::ReturnedHome),
            "lost_contact" => Ok(Self::LostContact),
            "left" => Ok(Self::Left),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for WorkerStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WorkerStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///`WorkerWorkplace`
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct WorkerWorkplace {
    #[serde(rename = "countyCode")]
    pub county_code: DivisionCode,
    pub province: ::std::option::Option<Text>,
}
/// Error types.
pub mod error {
    /// Error from a `TryFrom` or `FromStr` implementation.
    pub struct ConversionError(::std::borrow::Cow<'static, str>);
    impl ::std::error::Error for ConversionError {}
    impl ::std::fmt::Display for ConversionError {
        fn fmt(
            &self,
            f: &mut ::std::fmt::Formatter<'_>,
        ) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Display::fmt(&self.0, f)
        }
    }
    impl ::std::fmt::Debug for ConversionError {
        fn fmt(
            &self,
            f: &mut ::std::fmt::Formatter<'_>,
        ) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Debug::fmt(&self.0, f)
        }
    }
    impl From<&'static str> for ConversionError {
        fn from(value: &'static str) -> Self {
            Self(value.into())
        }
    }
    impl From<String> for ConversionError {
        fn from(value: String) -> Self {
            Self(value.into())
        }
    }
}
