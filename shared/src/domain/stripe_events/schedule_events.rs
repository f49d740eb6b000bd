//! Subscription schedule events: a plan change at the period's end was scheduled, changed,
//! released or ended. The change still to come is kept on the subscription (shown in the
//! entitlements as `scheduled_change`); schedule states are ordered by the event's time apart
//! from the subscription's, and a state no newer than the stored one is checked with Stripe.

use super::{Delivery, Outcome, Receipt, event_record, record_only, settle, user_for};
use crate::app::App;
use crate::domain::plan_changes::change_of;
use crate::domain::subscriptions::{self, Applied, Scheduled};
use crate::domain::waiting;
use crate::error::Error;
use crate::store::{Label, Tx};
use crate::stripe::{Event, SubscriptionSchedule};

pub(super) async fn changed(app: &App, event: &Event, schedule: SubscriptionSchedule) -> Result<Receipt, Error> {
    let Some(sub_id) = schedule.subscription() else {
        return record_only(app, event, Outcome::NoSubscription).await;
    };
    let Some(user_id) = user_for(app, &schedule.metadata, schedule.customer()).await? else {
        return waiting::wait_for_customer(app, event, schedule.customer()).await;
    };
    let now = app.now();
    let mut state = (change_of(&app.catalog, &schedule, event.created), event.created, false);
    let mut outcome = Outcome::ChangeScheduled;
    for _ in 0..3 {
        let with = || event_record(event, outcome, Delivery::Applied, now);
        match subscriptions::set_scheduled(app, &user_id, &sub_id, state.clone(), &with).await? {
            Scheduled::Stored(_) => return Ok(Receipt::Applied(outcome)),
            Scheduled::Refused(refused) => return settle(app, event, outcome, Err(refused)).await,
            Scheduled::UnknownSubscription => {
                // The schedule's news came before the subscription's: store Stripe's state of
                // the subscription first.
                match subscriptions::sync(app, &user_id, &sub_id, &event.id, &|_| Tx::new()).await? {
                    Applied::Stored { .. } => continue,
                    Applied::Refused(labels) if labels.contains(&Label::Event) => return Ok(Receipt::Duplicate),
                    Applied::Refused(_) => continue,
                    Applied::UnknownToStripe => return record_only(app, event, Outcome::SubscriptionUnknown).await,
                    Applied::UnknownPlan => return record_only(app, event, Outcome::UnknownPlan).await,
                }
            }
            Scheduled::Stale => {
                // No newer than what is stored (two states in one second, or late): Stripe's
                // current state of the schedule decides.
                if subscriptions::already_applied(app, &event.id).await? {
                    return Ok(Receipt::Duplicate);
                }
                let Some(current) = subscriptions::fetch_schedule(app, &schedule.id).await? else {
                    return record_only(app, event, Outcome::SubscriptionUnknown).await;
                };
                state = (change_of(&app.catalog, &current, now), now, true);
                outcome = Outcome::ScheduleRefreshed;
            }
        }
    }
    Err(Error::internal("the subscription's schedule could not be applied"))
}
