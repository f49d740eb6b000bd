//! The catalog as written in TOML, and how each plan is checked and built from it.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::prices::{Prices, TaxBehavior, Written};
use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlan {
    pub(super) name: String,
    pub(super) rank: i64,
    #[serde(default)]
    pub(super) default: bool,
    pub(super) mode: Option<CheckoutMode>,
    pub(super) price: Option<String>,
    pub(super) price_env: Option<String>,
    /// The one-time price's amount: with no `price`/`price_env`, `tollgate stripe push` keeps a
    /// Stripe price for it, found by its lookup key.
    pub(super) amount: Option<i64>,
    #[serde(default)]
    pub(super) currency_options: BTreeMap<String, i64>,
    /// Stripe Tax computes the tax at checkout (`automatic_tax`).
    #[serde(default)]
    pub(super) automatic_tax: bool,
    /// Checkout asks business buyers for their tax id.
    #[serde(default)]
    pub(super) tax_id_collection: bool,
    /// Credits granted each paid billing period (subscription plans).
    pub(super) credits: Option<u64>,
    #[serde(default)]
    pub(super) features: BTreeMap<String, Feature>,
    pub(super) subscription: Option<RawSubscription>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    pub(super) price: Option<String>,
    pub(super) price_env: Option<String>,
    /// What the price charges a period, in the currency's smallest unit (the simulation bills
    /// it; Stripe's price says it in production). Alone, the price is kept by `tollgate stripe push`.
    pub(super) amount: Option<i64>,
    /// The price in other currencies (Stripe's `currency_options`): `{ eur = 800 }`.
    #[serde(default)]
    pub(super) currency_options: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSubscription {
    #[serde(default)]
    pub(super) trial_days: u32,
    #[serde(default)]
    pub(super) trial_credits: u64,
    #[serde(default)]
    pub(super) allow_promotion_codes: bool,
    #[serde(default)]
    pub(super) billing_address: AddressCollection,
    pub(super) month: Option<RawPrice>,
    pub(super) year: Option<RawPrice>,
    pub(super) members: Option<RawMembers>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMembers {
    pub(super) coupon: Option<String>,
    pub(super) coupon_env: Option<String>,
    /// A coupon `tollgate stripe push` keeps: this percentage off, once.
    pub(super) percent_off: Option<u8>,
    pub(super) applies_to: Vec<String>,
    pub(super) per_month: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPack {
    pub(super) name: String,
    pub(super) credits: u64,
    pub(super) price: Option<String>,
    pub(super) price_env: Option<String>,
    pub(super) amount: Option<i64>,
    #[serde(default)]
    pub(super) currency_options: BTreeMap<String, i64>,
    /// Stripe Tax computes the tax at checkout (`automatic_tax`).
    #[serde(default)]
    pub(super) automatic_tax: bool,
    /// Checkout asks business buyers for their tax id.
    #[serde(default)]
    pub(super) tax_id_collection: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalog {
    /// The currency of every amount (ISO code, lowercase); `usd` unless said.
    pub(super) currency: Option<String>,
    /// How prices `tollgate stripe push` keeps treat tax: `exclusive`, `inclusive` or
    /// `unspecified` (the default).
    #[serde(default)]
    pub(super) tax_behavior: TaxBehavior,
    pub(super) plans: BTreeMap<String, RawPlan>,
    #[serde(default)]
    pub(super) packs: BTreeMap<String, RawPack>,
}

/// A plan as the catalog gives it, checked.
pub(super) fn build_plan(key: String, raw: RawPlan, prices: &mut Prices) -> Result<Plan, CatalogError> {
    let invalid = |message: &str| CatalogError::Invalid { plan: key.clone(), message: message.to_string() };
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid("plan keys are lowercase letters, digits and underscores"));
    }
    let written = Written {
        price: raw.price,
        price_env: raw.price_env,
        amount: raw.amount,
        currency_options: raw.currency_options,
    };
    let price = prices.resolve((&key, &raw.name), None, written)?;
    if raw.mode == Some(CheckoutMode::Subscription) {
        return Err(invalid("describe subscriptions under [plans.<key>.subscription], one price per interval"));
    }
    let subscription = match raw.subscription {
        Some(sub) if !raw.default => Some(build_subscription((&key, &raw.name), sub, prices)?),
        Some(_) => return Err(invalid("the default plan is free: it has no subscription")),
        None => None,
    };
    let offer = match (raw.default, price, raw.mode) {
        (true, None, None) => None,
        (true, _, _) => return Err(invalid("the default plan is free: it has no price or mode")),
        (false, Some(price), Some(mode)) => Some(Offer { mode, price }),
        (false, None, None) if subscription.is_some() => None,
        (false, _, _) => {
            return Err(invalid(
                "a plan that is sold needs a price (price, price_env or amount) and a mode, or a subscription",
            ));
        }
    };
    if raw.default && (raw.automatic_tax || raw.tax_id_collection) {
        return Err(invalid("the default plan is free: it has no tax settings"));
    }
    Ok(Plan {
        key,
        name: raw.name,
        rank: raw.rank,
        is_default: raw.default,
        offer,
        credits_per_period: raw.credits,
        features: raw.features,
        subscription,
        tax: Tax { automatic: raw.automatic_tax, id_collection: raw.tax_id_collection },
    })
}

fn build_subscription(
    (key, name): (&str, &str),
    raw: RawSubscription,
    prices: &mut Prices,
) -> Result<SubscriptionOffer, CatalogError> {
    let invalid = |message: String| CatalogError::Invalid { plan: key.to_string(), message };
    let mut by_interval = BTreeMap::new();
    let mut amounts = BTreeMap::new();
    for (interval, price) in [(Interval::Month, raw.month), (Interval::Year, raw.year)] {
        let Some(price) = price else { continue };
        if let Some(a) = price.amount {
            amounts.insert(interval, a);
        }
        let written = Written {
            price: price.price,
            price_env: price.price_env,
            amount: price.amount,
            currency_options: price.currency_options,
        };
        let id = prices.resolve((key, name), Some(interval), written)?.ok_or_else(|| {
            invalid(format!("the {} subscription needs a price (price, price_env or amount)", interval.as_str()))
        })?;
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
            let coupon = match (m.coupon, m.coupon_env, m.percent_off) {
                (Some(c), None, None) => c,
                (None, Some(var), None) => match (prices.resolver.lookup)(&var) {
                    Some(c) => c,
                    None if prices.resolver.simulated => format!("coupon_sim_{key}"),
                    None => return Err(CatalogError::UnresolvedPrice { plan: key.to_string(), variable: var }),
                },
                (None, None, Some(p)) if (1..=100).contains(&p) => format!("tollgate-members-{key}-{p}pct"),
                (None, None, Some(_)) => return Err(invalid("percent_off is 1 to 100".into())),
                _ => {
                    return Err(invalid(
                        "members' prices need exactly one of coupon, coupon_env and percent_off".into(),
                    ));
                }
            };
            if m.per_month == 0 || m.applies_to.is_empty() {
                return Err(invalid("members' prices need per_month >= 1 and something in applies_to".into()));
            }
            Some(MemberDiscount {
                coupon,
                applies_to: m.applies_to,
                per_month: m.per_month,
                percent_off: m.percent_off,
            })
        }
    };
    Ok(SubscriptionOffer {
        prices: by_interval,
        amounts,
        trial_days: raw.trial_days,
        trial_credits: raw.trial_credits,
        allow_promotion_codes: raw.allow_promotion_codes,
        billing_address: raw.billing_address,
        members,
    })
}

pub(super) trait IfEmpty {
    fn if_empty(self, alt: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, alt: &str) -> String {
        if self.is_empty() { alt.to_string() } else { self }
    }
}
