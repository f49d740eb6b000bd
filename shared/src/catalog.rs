//! `catalog.toml`: what is sold and what it unlocks. Plans have a key, a display name, a rank
//! (the highest-ranked plan a user holds is their plan), a Stripe price written directly or
//! named by an environment variable, a checkout mode and the features they grant.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The catalog shipped with Tollgate; `CATALOG_PATH` replaces it.
pub const BUILT_IN: &str = include_str!("../../catalog.toml");

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CatalogError {
    #[error("catalog {source_name} does not parse: {message}")]
    Parse { source_name: String, message: String },
    #[error("catalog plan {plan}: {message}")]
    Invalid { plan: String, message: String },
    #[error("catalog plan {plan}: variable {variable} (a Stripe price or coupon id) is not set")]
    UnresolvedPrice { plan: String, variable: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckoutMode {
    Payment,
    Subscription,
}

impl CheckoutMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutMode::Payment => "payment",
            CheckoutMode::Subscription => "subscription",
        }
    }
}

/// How often a subscription bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }
}

/// Stripe Checkout's `billing_address_collection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AddressCollection {
    #[default]
    Auto,
    Required,
}

impl AddressCollection {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressCollection::Auto => "auto",
            AddressCollection::Required => "required",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Month,
}

/// What a plan gives for one feature. The format grows by adding variants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Feature {
    /// `pro = true`
    Flag(bool),
    /// `sessions = 5`: a cap on stored records.
    Cap(u64),
    /// `ai_chat = "unlimited"`
    Unlimited(UnlimitedWord),
    /// `quizzes = { limit = 2, per = "month" }`
    Quota { limit: u64, per: Period },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnlimitedWord {
    Unlimited,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    rank: i64,
    #[serde(default)]
    default: bool,
    mode: Option<CheckoutMode>,
    price: Option<String>,
    price_env: Option<String>,
    /// Credits granted each paid billing period (subscription plans).
    credits: Option<u64>,
    #[serde(default)]
    features: BTreeMap<String, Feature>,
    subscription: Option<RawSubscription>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    price: Option<String>,
    price_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    #[serde(default)]
    trial_days: u32,
    #[serde(default)]
    trial_credits: u64,
    #[serde(default)]
    allow_promotion_codes: bool,
    #[serde(default)]
    billing_address: AddressCollection,
    month: Option<RawPrice>,
    year: Option<RawPrice>,
    members: Option<RawMembers>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembers {
    coupon: Option<String>,
    coupon_env: Option<String>,
    applies_to: Vec<String>,
    per_month: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    name: String,
    credits: u64,
    price: Option<String>,
    price_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    plans: BTreeMap<String, RawPlan>,
    #[serde(default)]
    packs: BTreeMap<String, RawPack>,
}

/// A credit pack: a one-time price that adds `credits` to the buyer's balance.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub key: String,
    pub name: String,
    pub credits: u64,
    pub price: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub key: String,
    pub name: String,
    pub rank: i64,
    pub is_default: bool,
    /// None for the default (free) plan.
    pub offer: Option<Offer>,
    /// Credits granted each paid billing period.
    pub credits_per_period: Option<u64>,
    pub features: BTreeMap<String, Feature>,
    /// Sold as a subscription (per interval), besides or instead of `offer`.
    pub subscription: Option<SubscriptionOffer>,
}

/// A one-time purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub mode: CheckoutMode,
    pub price: String,
}

/// A plan sold as a subscription: one Stripe price per interval, and how Checkout sells it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionOffer {
    pub prices: BTreeMap<Interval, String>,
    /// Free days before the first charge; 0 for none. A user gets one trial, ever.
    pub trial_days: u32,
    /// Credits granted once when a trial starts (the $0 invoice that opens it); 0 for none.
    /// Paid periods grant the plan's `credits`; a trial grants only these.
    pub trial_credits: u64,
    pub allow_promotion_codes: bool,
    pub billing_address: AddressCollection,
    pub members: Option<MemberDiscount>,
}

/// Members' prices: subscribers get `coupon` on the named one-time purchases (plans or packs),
/// at most `per_month` times a calendar month (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDiscount {
    pub coupon: String,
    pub applies_to: Vec<String>,
    pub per_month: u32,
}

impl Plan {
    pub fn flag(&self, feature: &str) -> bool {
        matches!(self.features.get(feature), Some(Feature::Flag(true)))
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    plans: Vec<Plan>,
    packs: Vec<Pack>,
}

/// How a `price_env` name becomes a price: the environment, and what to do when it is unset.
pub struct PriceResolver<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// With a simulated Stripe there are no real prices: unset variables get `price_sim_<plan>`.
    pub simulated: bool,
}

impl Catalog {
    pub fn parse(text: &str, source_name: &str, prices: &PriceResolver) -> Result<Self, CatalogError> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError::Parse {
            source_name: source_name.to_string(),
            message: e.message().to_string(),
        })?;
        let mut plans = Vec::new();
        for (key, raw) in raw.plans {
            plans.push(build_plan(key, raw, prices)?);
        }
        let defaults: Vec<_> = plans.iter().filter(|p| p.is_default).map(|p| p.key.clone()).collect();
        if defaults.len() != 1 {
            return Err(CatalogError::Invalid {
                plan: defaults.join(",").if_empty("(none)"),
                message: "exactly one plan must be `default = true`".into(),
            });
        }
        for (i, a) in plans.iter().enumerate() {
            if let Some(b) = plans[i + 1..].iter().find(|b| b.rank == a.rank) {
                return Err(CatalogError::Invalid {
                    plan: b.key.clone(),
                    message: format!("rank {} is already used by plan {}", a.rank, a.key),
                });
            }
        }
        plans.sort_by_key(|p| p.rank);
        let mut packs = Vec::new();
        for (key, raw) in raw.packs {
            if plans.iter().any(|p| p.key == key) {
                return Err(CatalogError::Invalid { plan: key, message: "a pack and a plan share this key".into() });
            }
            if raw.credits == 0 {
                return Err(CatalogError::Invalid { plan: key, message: "a pack grants at least one credit".into() });
            }
            let price = resolve_price(&key, raw.price, raw.price_env, prices)?.ok_or_else(|| {
                CatalogError::Invalid { plan: key.clone(), message: "a pack needs a price (or price_env)".into() }
            })?;
            packs.push(Pack { key, name: raw.name, credits: raw.credits, price });
        }
        let catalog = Catalog { plans, packs };
        for plan in &catalog.plans {
            let Some(members) = plan.subscription.as_ref().and_then(|s| s.members.as_ref()) else { continue };
            if let Some(unknown) = members.applies_to.iter().find(|k| !catalog.sells_once(k)) {
                return Err(CatalogError::Invalid {
                    plan: plan.key.clone(),
                    message: format!("members' prices apply to {unknown:?}, which is not a one-time plan or pack"),
                });
            }
        }
        Ok(catalog)
    }

    pub fn plan(&self, key: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.key == key)
    }

    pub fn default_plan(&self) -> &Plan {
        self.plans.iter().find(|p| p.is_default).expect("parse guarantees one default plan")
    }

    /// The plan a one-time price buys.
    pub fn plan_for_price(&self, price: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.offer.as_ref().is_some_and(|o| o.price == price))
    }

    /// The plan and interval a subscription price bills.
    pub fn plan_for_subscription_price(&self, price: &str) -> Option<(&Plan, Interval)> {
        self.plans.iter().find_map(|p| {
            let offer = p.subscription.as_ref()?;
            offer.prices.iter().find(|(_, id)| *id == price).map(|(interval, _)| (p, *interval))
        })
    }

    /// The highest-ranked of the given plan keys, or the default plan when none is known.
    pub fn best_of<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> &Plan {
        keys.into_iter()
            .filter_map(|k| self.plan(k))
            .max_by_key(|p| p.rank)
            .filter(|p| p.rank > self.default_plan().rank)
            .unwrap_or_else(|| self.default_plan())
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn pack(&self, key: &str) -> Option<&Pack> {
        self.packs.iter().find(|p| p.key == key)
    }

    pub fn pack_for_price(&self, price: &str) -> Option<&Pack> {
        self.packs.iter().find(|p| p.price == price)
    }

    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Is `key` a pack, or a plan sold by a one-time payment?
    pub fn sells_once(&self, key: &str) -> bool {
        self.pack(key).is_some() || self.plan(key).is_some_and(|p| p.offer.is_some())
    }
}

fn build_plan(key: String, raw: RawPlan, prices: &PriceResolver) -> Result<Plan, CatalogError> {
    let invalid = |message: &str| CatalogError::Invalid { plan: key.clone(), message: message.to_string() };
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid("plan keys are lowercase letters, digits and underscores"));
    }
    let price = resolve_price(&key, raw.price, raw.price_env, prices)?;
    if raw.mode == Some(CheckoutMode::Subscription) {
        return Err(invalid("describe subscriptions under [plans.<key>.subscription], one price per interval"));
    }
    let subscription = match raw.subscription {
        Some(sub) if !raw.default => Some(build_subscription(&key, sub, prices)?),
        Some(_) => return Err(invalid("the default plan is free: it has no subscription")),
        None => None,
    };
    let offer = match (raw.default, price, raw.mode) {
        (true, None, None) => None,
        (true, _, _) => return Err(invalid("the default plan is free: it has no price or mode")),
        (false, Some(price), Some(mode)) => Some(Offer { mode, price }),
        (false, None, None) if subscription.is_some() => None,
        (false, _, _) => {
            return Err(invalid("a plan that is sold needs a price (or price_env) and a mode, or a subscription"));
        }
    };
    Ok(Plan {
        key,
        name: raw.name,
        rank: raw.rank,
        is_default: raw.default,
        offer,
        credits_per_period: raw.credits,
        features: raw.features,
        subscription,
    })
}

fn build_subscription(
    key: &str,
    raw: RawSubscription,
    prices: &PriceResolver,
) -> Result<SubscriptionOffer, CatalogError> {
    let invalid = |message: String| CatalogError::Invalid { plan: key.to_string(), message };
    let mut by_interval = BTreeMap::new();
    for (interval, price) in [(Interval::Month, raw.month), (Interval::Year, raw.year)] {
        let Some(price) = price else { continue };
        let name = format!("{key}_{}", interval.as_str());
        let id = resolve_price(&name, price.price, price.price_env, prices)?
            .ok_or_else(|| invalid(format!("the {} subscription needs a price (or price_env)", interval.as_str())))?;
        by_interval.insert(interval, id);
    }
    if by_interval.is_empty() {
        return Err(invalid("a subscription needs a month or year price".into()));
    }
    if raw.trial_days > 730 {
        return Err(invalid("trial_days is at most 730 (Stripe's limit)".into()));
    }
    if raw.trial_credits > 0 && raw.trial_days == 0 {
        return Err(invalid("trial_credits needs trial_days".into()));
    }
    if raw.trial_credits > i64::MAX as u64 {
        return Err(invalid("trial_credits is out of range".into()));
    }
    let members = match raw.members {
        None => None,
        Some(m) => {
            let coupon = match (m.coupon, m.coupon_env) {
                (Some(c), None) => c,
                (None, Some(var)) => match (prices.lookup)(&var) {
                    Some(c) => c,
                    None if prices.simulated => format!("coupon_sim_{key}"),
                    None => return Err(CatalogError::UnresolvedPrice { plan: key.to_string(), variable: var }),
                },
                _ => return Err(invalid("members' prices need exactly one of coupon and coupon_env".into())),
            };
            if m.per_month == 0 || m.applies_to.is_empty() {
                return Err(invalid("members' prices need per_month >= 1 and something in applies_to".into()));
            }
            Some(MemberDiscount { coupon, applies_to: m.applies_to, per_month: m.per_month })
        }
    };
    Ok(SubscriptionOffer {
        prices: by_interval,
        trial_days: raw.trial_days,
        trial_credits: raw.trial_credits,
        allow_promotion_codes: raw.allow_promotion_codes,
        billing_address: raw.billing_address,
        members,
    })
}

/// A price written directly, or named by an environment variable.
fn resolve_price(
    key: &str,
    price: Option<String>,
    price_env: Option<String>,
    prices: &PriceResolver,
) -> Result<Option<String>, CatalogError> {
    match (price, price_env) {
        (Some(_), Some(_)) => Err(CatalogError::Invalid {
            plan: key.to_string(),
            message: "give either price or price_env, not both".into(),
        }),
        (Some(p), None) => Ok(Some(p)),
        (None, Some(var)) => match (prices.lookup)(&var) {
            Some(p) => Ok(Some(p)),
            None if prices.simulated => Ok(Some(format!("price_sim_{key}"))),
            None => Err(CatalogError::UnresolvedPrice { plan: key.to_string(), variable: var }),
        },
        (None, None) => Ok(None),
    }
}

trait IfEmpty {
    fn if_empty(self, alt: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, alt: &str) -> String {
        if self.is_empty() { alt.to_string() } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(simulated: bool) -> PriceResolver<'static> {
        PriceResolver { lookup: &|name| (name == "PRICE_SET").then(|| "price_from_env".to_string()), simulated }
    }

    #[test]
    fn built_in_catalog_has_free_and_pro() {
        let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
        assert_eq!(c.default_plan().key, "free");
        let pro = c.plan("pro").unwrap();
        assert!(pro.flag("pro"));
        assert_eq!(pro.offer.as_ref().unwrap().mode, CheckoutMode::Payment);
        assert!(!c.default_plan().flag("pro"));
    }

    #[test]
    fn price_env_resolves_from_the_environment() {
        let text = r#"
            [plans.free]
            name = "Free"
            rank = 0
            default = true
            [plans.pro]
            name = "Pro"
            rank = 10
            mode = "payment"
            price_env = "PRICE_SET"
            features = { pro = true, sessions = 50, ai_chat = "unlimited", quizzes = { limit = 2, per = "month" } }
        "#;
        let c = Catalog::parse(text, "t", &resolver(false)).unwrap();
        let pro = c.plan("pro").unwrap();
        assert_eq!(pro.offer.as_ref().unwrap().price, "price_from_env");
        assert_eq!(c.plan_for_price("price_from_env").unwrap().key, "pro");
        assert_eq!(pro.features["sessions"], Feature::Cap(50));
        assert_eq!(pro.features["ai_chat"], Feature::Unlimited(UnlimitedWord::Unlimited));
        assert_eq!(pro.features["quizzes"], Feature::Quota { limit: 2, per: Period::Month });
    }

    #[test]
    fn unresolved_price_names_the_variable() {
        let text = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.pro]\nname='P'\nrank=1\nmode='payment'\nprice_env='NOPE'\n";
        let err = Catalog::parse(text, "t", &resolver(false)).unwrap_err();
        assert_eq!(err, CatalogError::UnresolvedPrice { plan: "pro".into(), variable: "NOPE".into() });
        assert!(err.to_string().contains("NOPE"));
    }

    #[test]
    fn simulated_stripe_fills_unset_prices() {
        let text = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.pro]\nname='P'\nrank=1\nmode='payment'\nprice_env='NOPE'\n";
        let c = Catalog::parse(text, "t", &resolver(true)).unwrap();
        assert_eq!(c.plan("pro").unwrap().offer.as_ref().unwrap().price, "price_sim_pro");
    }

    #[test]
    fn malformed_catalogs_are_refused_with_a_reason() {
        let cases = [
            ("not toml [", "does not parse"),
            ("[plans.a]\nname='A'\nrank=0\nmode='payment'\nprice='p'\n", "exactly one plan"),
            (
                "[plans.a]\nname='A'\nrank=0\ndefault=true\n[plans.b]\nname='B'\nrank=0\nmode='payment'\nprice='p'\n",
                "rank 0",
            ),
            ("[plans.a]\nname='A'\nrank=0\ndefault=true\n[plans.b]\nname='B'\nrank=1\n", "needs a price"),
            ("[plans.a]\nname='A'\nrank=0\ndefault=true\ncolour='red'\n", "does not parse"),
        ];
        for (text, expect) in cases {
            let err = Catalog::parse(text, "t", &resolver(false)).unwrap_err().to_string();
            assert!(err.contains(expect), "{text:?} gave {err}");
        }
    }

    #[test]
    fn packs_resolve_their_price_and_credits() {
        let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
        let pack = c.pack("credits_100").unwrap();
        assert_eq!((pack.credits, pack.price.as_str()), (100, "price_sim_credits_100"));
        assert_eq!(c.pack_for_price("price_sim_credits_100").unwrap().key, "credits_100");
        assert!(c.plan("credits_100").is_none());
    }

    #[test]
    fn malformed_packs_are_refused() {
        let base = "[plans.free]\nname='F'\nrank=0\ndefault=true\n";
        let cases = [
            ("[packs.free]\nname='P'\ncredits=5\nprice='p'\n", "share this key"),
            ("[packs.p]\nname='P'\ncredits=0\nprice='p'\n", "at least one credit"),
            ("[packs.p]\nname='P'\ncredits=5\n", "needs a price"),
            ("[packs.p]\nname='P'\ncredits=5\nprice_env='NOPE'\n", "NOPE"),
            ("[packs.p]\nname='P'\ncredits=-1\nprice='p'\n", "does not parse"),
        ];
        for (pack, expect) in cases {
            let err = Catalog::parse(&format!("{base}{pack}"), "t", &resolver(false)).unwrap_err().to_string();
            assert!(err.contains(expect), "{pack:?} gave {err}");
        }
    }

    #[test]
    fn best_of_takes_the_highest_rank() {
        let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
        assert_eq!(c.best_of(["free", "pro"]).key, "pro");
        assert_eq!(c.best_of(["gone"]).key, "free");
        assert_eq!(c.best_of([]).key, "free");
    }

    #[test]
    fn subscriptions_are_tiers_by_interval_with_trials_and_members_prices() {
        let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
        let basic = c.plan("basic").unwrap();
        assert!(basic.offer.is_none(), "Basic is sold only by subscription");
        let sub = basic.subscription.as_ref().unwrap();
        assert_eq!(
            (sub.trial_days, sub.allow_promotion_codes, sub.billing_address),
            (14, true, AddressCollection::Auto)
        );
        assert_eq!(sub.prices[&Interval::Year], "price_sim_basic_year");
        let pro = c.plan("pro").unwrap();
        let sub = pro.subscription.as_ref().unwrap();
        assert_eq!((sub.trial_days, sub.billing_address), (30, AddressCollection::Required));
        let members = sub.members.as_ref().unwrap();
        assert_eq!((members.coupon.as_str(), members.per_month), ("coupon_sim_pro", 3));
        assert_eq!(members.applies_to, vec!["credits_100".to_string()]);
        let (plan, interval) = c.plan_for_subscription_price("price_sim_pro_month").unwrap();
        assert_eq!((plan.key.as_str(), interval), ("pro", Interval::Month));
        assert!(c.plan_for_price("price_sim_pro_month").is_none(), "a recurring price is not a one-time one");
    }

    #[test]
    fn malformed_subscriptions_are_refused() {
        let base = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.s]\nname='S'\nrank=1\n";
        let cases = [
            ("mode='subscription'\nprice='p'\n", "[plans.<key>.subscription]"),
            ("[plans.s.subscription]\ntrial_days=3\n", "a month or year price"),
            ("[plans.s.subscription]\nmonth={ price_env='NOPE' }\n", "NOPE"),
            ("[plans.s.subscription]\nweek={ price='p' }\n", "does not parse"),
            ("[plans.s.subscription]\nmonth={ price='p' }\ntrial_days=9999\n", "730"),
            ("[plans.s.subscription]\nmonth={ price='p' }\nbilling_address='sometimes'\n", "does not parse"),
            (
                "[plans.s.subscription]\nmonth={ price='p' }\n[plans.s.subscription.members]\ncoupon='c'\napplies_to=['gold']\nper_month=1\n",
                "not a one-time plan or pack",
            ),
            (
                "[plans.s.subscription]\nmonth={ price='p' }\n[plans.s.subscription.members]\ncoupon_env='NOPE_C'\napplies_to=['s']\nper_month=1\n",
                "NOPE_C",
            ),
        ];
        for (plan, expect) in cases {
            let err = Catalog::parse(&format!("{base}{plan}"), "t", &resolver(false)).unwrap_err().to_string();
            assert!(err.contains(expect), "{plan:?} gave {err}");
        }
        let free_sub = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.free.subscription]\nmonth={ price='p' }\n";
        assert!(Catalog::parse(free_sub, "t", &resolver(false)).unwrap_err().to_string().contains("free"));
    }
}
