//! `catalog.toml`: what is sold and what it unlocks. Plans have a key, a display name, a rank
//! (the highest-ranked plan a user holds is their plan), a Stripe price written directly or
//! named by an environment variable, a checkout mode and the features they grant.

use std::collections::BTreeMap;

use serde::Deserialize;

mod prices;
mod raw;
#[cfg(test)]
mod tests;

pub use prices::{CatalogCoupon, CatalogPrice, Tax, TaxBehavior, is_currency, lookup_key};
use raw::{IfEmpty, RawCatalog, build_plan};

/// The catalog shipped with Tollgate; `CATALOG_PATH` replaces it.
pub const BUILT_IN: &str = include_str!("../../../catalog.toml");

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CatalogError {
    #[error("catalog {source_name} does not parse: {message}")]
    Parse { source_name: String, message: String },
    #[error("catalog plan {plan}: {message}")]
    Invalid { plan: String, message: String },
    #[error("catalog plan {plan}: variable {variable} (a Stripe price or coupon id) is not set")]
    UnresolvedPrice { plan: String, variable: String },
    #[error("catalog plan {plan}: Stripe has no active price with lookup key {lookup_key}: run `tollgate stripe push`")]
    NotPushed { plan: String, lookup_key: String },
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

/// A credit pack: a one-time price that adds `credits` to the buyer's balance.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub key: String,
    pub name: String,
    pub credits: u64,
    pub price: String,
    pub tax: Tax,
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
    /// Tax at checkout, for the one-time price and the subscription alike.
    pub tax: Tax,
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
    /// What each interval's price charges a period, where the catalog says.
    pub amounts: BTreeMap<Interval, i64>,
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
    /// Some: the coupon is `tollgate stripe push`'s, this percentage off once.
    pub percent_off: Option<u8>,
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
    prices: Vec<CatalogPrice>,
    currency: String,
    tax_behavior: TaxBehavior,
}

/// A catalog file as read (`Catalog::read`).
#[derive(Debug, Clone)]
pub struct Written(RawCatalog);

/// How a price becomes a Stripe price id: `price_env` names from the environment, lookup keys
/// (prices named by amount) from Stripe, and what to do when either is unknown.
pub struct PriceResolver<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The id of the active Stripe price with this lookup key (listed once at start).
    pub by_lookup_key: &'a dyn Fn(&str) -> Option<String>,
    /// With a simulated Stripe there are no real prices: unset variables get `price_sim_<plan>`.
    pub simulated: bool,
}

impl Catalog {
    pub fn parse(text: &str, source_name: &str, prices: &PriceResolver) -> Result<Self, CatalogError> {
        Self::build(Self::read(text, source_name)?, prices)
    }

    /// The catalog file as written (prices not yet resolved): read once, built as often as needed.
    pub fn read(text: &str, source_name: &str) -> Result<Written, CatalogError> {
        toml::from_str(text)
            .map(Written)
            .map_err(|e| CatalogError::Parse { source_name: source_name.to_string(), message: e.message().to_string() })
    }

    /// The catalog from what was read, its prices resolved by `prices`.
    pub fn build(written: Written, prices: &PriceResolver) -> Result<Self, CatalogError> {
        let raw = written.0;
        let currency = raw.currency.unwrap_or_else(|| "usd".to_string());
        if !is_currency(&currency) {
            return Err(CatalogError::Invalid {
                plan: "(catalog)".into(),
                message: format!("currency {currency:?} is not three lowercase letters"),
            });
        }
        let mut found = prices::Prices { resolver: prices, currency: currency.clone(), found: Vec::new() };
        let mut plans = Vec::new();
        for (key, raw) in raw.plans {
            plans.push(build_plan(key, raw, &mut found)?);
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
            let written = prices::Written {
                price: raw.price,
                price_env: raw.price_env,
                amount: raw.amount,
                currency_options: raw.currency_options,
            };
            let price = found.resolve((&key, &raw.name), None, written)?.ok_or_else(|| CatalogError::Invalid {
                plan: key.clone(),
                message: "a pack needs a price (price, price_env or amount)".into(),
            })?;
            let tax = Tax { automatic: raw.automatic_tax, id_collection: raw.tax_id_collection };
            packs.push(Pack { key, name: raw.name, credits: raw.credits, price, tax });
        }
        let catalog = Catalog { plans, packs, prices: found.found, currency, tax_behavior: raw.tax_behavior };
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

    /// What each price charges, where the catalog says (the simulation bills these): by price id
    /// in its own currency, and by `<price id>|<currency>` in its other currencies.
    pub fn amounts(&self) -> std::collections::HashMap<String, i64> {
        let own = self.prices.iter().filter_map(|p| Some((p.id.clone(), p.amount?)));
        let options =
            self.prices.iter().flat_map(|p| p.currency_options.iter().map(|(c, a)| (format!("{}|{c}", p.id), *a)));
        own.chain(options).collect()
    }

    /// Every price the catalog sells.
    pub fn prices(&self) -> &[CatalogPrice] {
        &self.prices
    }

    pub fn price(&self, id: &str) -> Option<&CatalogPrice> {
        self.prices.iter().find(|p| p.id == id)
    }

    /// The currency of the catalog's amounts.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn tax_behavior(&self) -> TaxBehavior {
        self.tax_behavior
    }

    /// The coupons `tollgate stripe push` keeps.
    pub fn coupons(&self) -> Vec<CatalogCoupon> {
        let plans = self.plans.iter().filter_map(|p| Some((p, p.subscription.as_ref()?.members.as_ref()?)));
        plans
            .filter_map(|(plan, m)| {
                let percent_off = m.percent_off?;
                let name = format!("{} members: {percent_off}% off", plan.name);
                Some(CatalogCoupon { id: m.coupon.clone(), name, percent_off })
            })
            .collect()
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
