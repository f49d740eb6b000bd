//! The catalog as written in TOML, and how each plan is checked and built from it.

use std::collections::BTreeMap;

use serde::Deserialize;

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
    /// it; Stripe's price says it in production).
    pub(super) amount: Option<i64>,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalog {
    pub(super) plans: BTreeMap<String, RawPlan>,
    #[serde(default)]
    pub(super) packs: BTreeMap<String, RawPack>,
}

/// A plan as the catalog gives it, checked.
pub(super) fn build_plan(key: String, raw: RawPlan, prices: &PriceResolver) -> Result<Plan, CatalogError> {
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
    let mut amounts = BTreeMap::new();
    for (interval, price) in [(Interval::Month, raw.month), (Interval::Year, raw.year)] {
        let Some(price) = price else { continue };
        let name = format!("{key}_{}", interval.as_str());
        match price.amount {
            Some(a) if a < 0 => return Err(invalid(format!("the {} amount is negative", interval.as_str()))),
            Some(a) => {
                amounts.insert(interval, a);
            }
            None => {}
        }
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
        amounts,
        trial_days: raw.trial_days,
        trial_credits: raw.trial_credits,
        allow_promotion_codes: raw.allow_promotion_codes,
        billing_address: raw.billing_address,
        members,
    })
}

/// A price written directly, or named by an environment variable.
pub(super) fn resolve_price(
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

pub(super) trait IfEmpty {
    fn if_empty(self, alt: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, alt: &str) -> String {
        if self.is_empty() { alt.to_string() } else { self }
    }
}
