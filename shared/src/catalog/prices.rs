//! Every price the catalog sells, and how each is found: written as an id, named by an
//! environment variable, or named by its amount and interval (then `tollgate stripe push` keeps
//! a Stripe price for it under a lookup key, and the functions find its id at start).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{CatalogError, Interval, PriceResolver};

/// How Stripe treats tax on a price `tollgate stripe push` keeps (`tax_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaxBehavior {
    Exclusive,
    Inclusive,
    #[default]
    Unspecified,
}

impl TaxBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxBehavior::Exclusive => "exclusive",
            TaxBehavior::Inclusive => "inclusive",
            TaxBehavior::Unspecified => "unspecified",
        }
    }
}

/// What Checkout does about tax for a plan or pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tax {
    /// Stripe Tax computes the tax (`automatic_tax[enabled]`).
    pub automatic: bool,
    /// Business buyers may give a tax id (`tax_id_collection[enabled]`).
    pub id_collection: bool,
}

/// One price the catalog sells.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPrice {
    /// The Stripe price id (resolved).
    pub id: String,
    /// The plan or pack it sells, and that item's name.
    pub item: String,
    pub item_name: String,
    /// The billing interval; None for a one-time price.
    pub interval: Option<Interval>,
    /// What it charges, in the smallest unit of `currency`, where the catalog says.
    pub amount: Option<i64>,
    pub currency: String,
    /// The same price in other currencies.
    pub currency_options: BTreeMap<String, i64>,
    /// Some: named by its amount; `tollgate stripe push` keeps it under this lookup key.
    pub lookup_key: Option<String>,
}

impl CatalogPrice {
    /// The currencies a buyer may pay this price in (its own first).
    pub fn currencies(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.currency.as_str()).chain(self.currency_options.keys().map(String::as_str))
    }

    /// The amount in `currency`, where the catalog says.
    pub fn amount_in(&self, currency: &str) -> Option<i64> {
        if currency == self.currency { self.amount } else { self.currency_options.get(currency).copied() }
    }
}

/// A coupon `tollgate stripe push` keeps (members' prices named by `percent_off`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogCoupon {
    pub id: String,
    pub name: String,
    pub percent_off: u8,
}

/// The lookup key of a price named by amount: `tollgate:<item>:<once|month|year>`. Item keys
/// are lowercase letters, digits and underscores, so no two items' keys meet.
pub fn lookup_key(item: &str, interval: Option<Interval>) -> String {
    format!("tollgate:{item}:{}", interval.map_or("once", Interval::as_str))
}

/// How a price is written in the catalog.
pub(super) struct Written {
    pub(super) price: Option<String>,
    pub(super) price_env: Option<String>,
    pub(super) amount: Option<i64>,
    pub(super) currency_options: BTreeMap<String, i64>,
}

/// The prices met while building the catalog, and how to resolve them.
pub(super) struct Prices<'a, 'r> {
    pub(super) resolver: &'a PriceResolver<'r>,
    pub(super) currency: String,
    pub(super) found: Vec<CatalogPrice>,
}

impl Prices<'_, '_> {
    /// The id of the price `written` for `item` (None when nothing is written), kept in `found`.
    pub(super) fn resolve(
        &mut self,
        item: (&str, &str),
        interval: Option<Interval>,
        written: Written,
    ) -> Result<Option<String>, CatalogError> {
        let (key, item_name) = item;
        let invalid = |message: String| CatalogError::Invalid { plan: key.to_string(), message };
        // The name simulated prices and error messages use: `pro`, `pro_month`.
        let name = match interval {
            Some(i) => format!("{key}_{}", i.as_str()),
            None => key.to_string(),
        };
        if written.amount.is_some_and(|a| a < 0) || written.currency_options.values().any(|a| *a < 0) {
            return Err(invalid(format!("{name}: an amount is negative")));
        }
        if let Some(bad) = written.currency_options.keys().find(|c| !is_currency(c) || **c == self.currency) {
            return Err(invalid(format!("{name}: {bad:?} is not another currency (three lowercase letters)")));
        }
        let simulated = || self.resolver.simulated.then(|| format!("price_sim_{name}"));
        let (id, lookup) = match (written.price, written.price_env) {
            (Some(_), Some(_)) => return Err(invalid("give either price or price_env, not both".into())),
            (Some(p), None) => (p, None),
            (None, Some(var)) => match (self.resolver.lookup)(&var).or_else(simulated) {
                Some(p) => (p, None),
                None => return Err(CatalogError::UnresolvedPrice { plan: key.to_string(), variable: var }),
            },
            (None, None) if written.amount.is_some() => {
                let lookup = lookup_key(key, interval);
                match (self.resolver.by_lookup_key)(&lookup).or_else(simulated) {
                    Some(p) => (p, Some(lookup)),
                    None => return Err(CatalogError::NotPushed { plan: key.to_string(), lookup_key: lookup }),
                }
            }
            (None, None) if !written.currency_options.is_empty() => {
                return Err(invalid(format!("{name}: currency_options need an amount")));
            }
            (None, None) => return Ok(None),
        };
        self.found.push(CatalogPrice {
            id: id.clone(),
            item: key.to_string(),
            item_name: item_name.to_string(),
            interval,
            amount: written.amount,
            currency: self.currency.clone(),
            currency_options: written.currency_options,
            lookup_key: lookup,
        });
        Ok(Some(id))
    }
}

/// A three-letter ISO currency code, lowercase (as Stripe writes them).
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase())
}
