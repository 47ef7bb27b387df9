//! Creators as web pages: the public profile `/{handle}` with its posts, becoming a creator
//! and the profile settings (with avatar and banner uploads), payout onboarding, and the
//! creator's dashboard (subscribers, an earnings chart, recent transactions, posts).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration as Span, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::service::{self, Found, ProfileInput};
use crate::billing::types::EntryKind;
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{CurrentUser, MaybeUser};
use crate::posts::{self, Card, CreatorPage};
use crate::site::{self, FormErrors, Layout, Said};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "creators/profile.html")]
struct ProfilePage {
    layout: Layout,
    csrf: String,
    back: String,
    name: String,
    handle: String,
    creator_id: String,
    bio_html: String,
    avatar: String,
    banner: String,
    banner_srcset: String,
    price: String,
    trial_days: i32,
    posts: i64,
    images: i64,
    videos: i64,
    subscribers: Option<i64>,
    own: bool,
    signed_in: bool,
    subscribed: bool,
    cards: Vec<Card>,
    next: Option<String>,
    notice: &'static str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ProfileQuery {
    cursor: String,
    published: String,
    saved: String,
}

fn srcset(files: &[posts::VariantUrl]) -> String {
    files
        .iter()
        .map(|v| format!("{} {}w", v.url.as_str(), v.width))
        .collect::<Vec<_>>()
        .join(", ")
}

fn file(files: &[posts::VariantUrl], name: &str) -> String {
    files
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.url.as_str().to_owned())
        .unwrap_or_default()
}

/// `GET /{handle}`: the creator's page; a previous handle redirects to the current one.
pub(super) async fn profile(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(viewer): MaybeUser,
    Path(handle): Path<String>,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, AppError> {
    let mut conn = state.db.acquire().await?;
    let creator = match service::find(&mut conn, &handle).await? {
        Found::Creator(c) => c,
        Found::MovedTo(h) => return Ok(Redirect::permanent(&format!("/{h}")).into_response()),
    };
    let viewer_id = viewer.as_ref().map(|v| v.user.id.0);
    let own = viewer_id == Some(creator.user_id);
    let (subscribed, trial_days) = match viewer_id {
        Some(fan) if !own => (
            crate::billing::subscribed(&mut conn, &state.settings, fan, creator.user_id).await?,
            // A fan who subscribed before is not promised a second trial.
            crate::billing::trial_days_for(&mut conn, fan, &creator).await?,
        ),
        _ => (false, creator.trial_days),
    };
    drop(conn);
    let after = posts::cursor_param(&q.cursor)?;
    let listing = match posts::creator_page(
        &state,
        viewer.as_ref().map(|v| &v.user),
        &creator.handle,
        after,
        posts::DEFAULT_PAGE,
    )
    .await?
    {
        CreatorPage::Page(l) => l,
        CreatorPage::MovedTo(h) => return Ok(Redirect::to(&format!("/{h}")).into_response()),
    };
    let creator_id = creator.user_id.to_string();
    let profile = service::profile(&state, creator, own).await?;
    let page = ProfilePage {
        creator_id,
        csrf: layout.csrf.clone(),
        back: format!("/{}", profile.handle),
        layout,
        name: profile.display_name,
        bio_html: profile.bio_html,
        avatar: file(&profile.avatar, "grid.webp"),
        banner: file(&profile.banner, "grid.webp"),
        banner_srcset: srcset(&profile.banner),
        price: site::money(
            i64::from(profile.price.amount_minor),
            &profile.price.currency,
        ),
        trial_days,
        posts: profile.counts.posts,
        images: profile.counts.images,
        videos: profile.counts.videos,
        subscribers: profile.counts.subscribers,
        own,
        signed_in: viewer.is_some(),
        subscribed,
        cards: posts::cards(&listing),
        next: listing
            .next_cursor
            .map(|c| format!("/{}?cursor={}", profile.handle, posts::urlencode(&c))),
        handle: profile.handle,
        notice: if !q.published.is_empty() {
            "Your post is published."
        } else if !q.saved.is_empty() {
            "Your profile is saved."
        } else {
            ""
        },
    };
    Ok(site::render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "creators/settings.html")]
struct SettingsPage {
    layout: Layout,
    creating: bool,
    form: SettingsForm,
    currencies: Vec<String>,
    avatar: String,
    banner: String,
    payouts: Payouts,
    errors: FieldErrors,
    form_error: String,
    notice: &'static str,
}

impl FormErrors for SettingsPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// Payout onboarding as the settings page shows it.
struct Payouts {
    started: bool,
    enabled: bool,
}

/// The profile form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SettingsForm {
    handle: String,
    display_name: String,
    bio: String,
    price: String,
    currency: String,
    trial_days: String,
    welcome_message: String,
    avatar_id: String,
    banner_id: String,
}

async fn settings_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    form: Option<SettingsForm>,
    said: Said,
) -> Result<Response, AppError> {
    let Said {
        errors,
        form_error,
        notice,
        status,
    } = said;
    let current = super::by_user(&state.db, user.user.id.0).await?;
    let content = &state.settings.content;
    let (avatar, banner) = match &current {
        Some(c) => {
            let (a, b) = service::profile_images(state, c).await?;
            (file(&a, "thumb.webp"), file(&b, "grid.webp"))
        }
        None => (String::new(), String::new()),
    };
    let payouts = match &current {
        Some(c) => match crate::billing::payout_status(state, c.user_id).await? {
            Some(a) => Payouts {
                started: true,
                enabled: a.charges_enabled && a.payouts_enabled,
            },
            None => Payouts {
                started: false,
                enabled: false,
            },
        },
        None => Payouts {
            started: false,
            enabled: false,
        },
    };
    let form = form.unwrap_or_else(|| match &current {
        Some(c) => SettingsForm {
            handle: c.handle.clone(),
            display_name: c.display_name.clone(),
            bio: c.bio.clone(),
            price: site::decimal(i64::from(c.price_minor)),
            currency: c.currency.clone(),
            trial_days: c.trial_days.to_string(),
            welcome_message: c.welcome_message.clone().unwrap_or_default(),
            avatar_id: c.avatar_id.map(|a| a.to_string()).unwrap_or_default(),
            banner_id: c.banner_id.map(|b| b.to_string()).unwrap_or_default(),
        },
        None => SettingsForm {
            display_name: user.user.display_name.clone(),
            price: site::decimal(i64::from(content.creator_price_min.max(499))),
            currency: content.currencies.first().cloned().unwrap_or_default(),
            trial_days: "0".into(),
            ..SettingsForm::default()
        },
    });
    Ok(site::render(
        &SettingsPage {
            layout,
            creating: current.is_none(),
            form,
            currencies: content.currencies.clone(),
            avatar,
            banner,
            payouts,
            errors,
            form_error,
            notice,
        },
        status,
    ))
}

/// `GET /settings/creator`: become a creator, or edit the profile.
pub(super) async fn settings(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<site::DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "payouts" => "Payouts are set up.",
        _ => "",
    };
    settings_page(&state, layout, &user, None, Said::ok(notice)).await
}

fn optional_id(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<Uuid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    Uuid::parse_str(raw).map_or_else(
        |_| {
            errors
                .entry(field.to_owned())
                .or_default()
                .push("is not an uploaded image".into());
            None
        },
        Some,
    )
}

/// `POST /settings/creator`: saves the profile (the first time, the account becomes a
/// creator's); errors come back next to their fields.
pub(super) async fn save_settings(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let price_minor = site::minor_units(&form.price).unwrap_or_else(|| {
        errors
            .entry("price_minor".into())
            .or_default()
            .push("enter a monthly price such as 4.99".into());
        0
    });
    let trial_days = form.trial_days.trim().parse::<i64>().unwrap_or_else(|_| {
        if form.trial_days.trim().is_empty() {
            0
        } else {
            errors
                .entry("trial_days".into())
                .or_default()
                .push("must be a number of days".into());
            0
        }
    });
    let avatar_id = optional_id(&form.avatar_id, "avatar_id", &mut errors);
    let banner_id = optional_id(&form.banner_id, "banner_id", &mut errors);
    // The service checks every other field too; while a field here is wrong it must not
    // save, so it gets a price no setting allows, and the errors here win for their fields.
    let price_minor = if errors.is_empty() {
        price_minor
    } else {
        i64::MIN
    };
    let outcome = service::put(
        &state,
        &user,
        ProfileInput {
            handle: form.handle.clone(),
            display_name: form.display_name.clone(),
            bio: form.bio.clone(),
            avatar_id,
            banner_id,
            price_minor,
            currency: form.currency.clone(),
            trial_days,
            welcome_message: Some(form.welcome_message.clone()),
        },
    )
    .await;
    let forced_price = price_minor == i64::MIN && !errors.contains_key("price_minor");
    let outcome = match outcome {
        Err(AppError::Validation(mut theirs)) => {
            if forced_price {
                // The typed price was fine; only the stand-in above was refused.
                theirs.remove("price_minor");
            }
            theirs.extend(errors);
            Err(AppError::Validation(theirs))
        }
        Ok(_) if !errors.is_empty() => Err(AppError::Validation(errors)),
        other => other,
    };
    match outcome {
        Ok((creator, _)) => {
            Ok(Redirect::to(&format!("/{}?saved=1", creator.handle)).into_response())
        }
        Err(e) => settings_page(&state, layout, &user, Some(form), Said::refusal(e)?).await,
    }
}

/// `POST /settings/payouts`: starts (or continues) payout onboarding at the payment rail.
pub(super) async fn payouts(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let p = crate::billing::onboard(&state, &user).await?;
    Ok(match p.onboarding_url {
        Some(url) => Redirect::to(&url).into_response(),
        None => Redirect::to("/settings/creator?done=payouts").into_response(),
    })
}

/// One bar of the earnings chart.
pub struct Bar {
    x: i64,
    y: i64,
    height: i64,
    negative: bool,
    label: String,
}

/// Earnings by day as bars in a 600×160 box (the last 30 days, in one currency).
struct Chart {
    bars: Vec<Bar>,
    max: String,
    first: String,
    last: String,
    total: String,
}

const CHART_DAYS: i64 = 30;
/// Height above the line (the best day).
const CHART_HEIGHT: i64 = 110;
/// Room below the line for refunds and disputes (deeper ones are cut at it).
const CHART_BELOW: i64 = 30;
const BAR_STEP: i64 = 20;

fn chart(by_day: &[crate::billing::PeriodView], currency: &str, today: chrono::NaiveDate) -> Chart {
    let days: Vec<(chrono::NaiveDate, i64)> = (0..CHART_DAYS)
        .rev()
        .map(|back| {
            let day = today - Span::days(back);
            let key = day.format("%Y-%m-%d").to_string();
            let net = by_day
                .iter()
                .filter(|p| p.currency == currency && p.period == key)
                .map(|p| p.net_minor)
                .sum();
            (day, net)
        })
        .collect();
    let peak = days.iter().map(|(_, v)| v.abs()).max().unwrap_or(0).max(1);
    let bars = days
        .iter()
        .zip(0..)
        .map(|((day, net), i)| {
            let height = (net.abs() * CHART_HEIGHT / peak).max(i64::from(*net != 0));
            let height = if *net < 0 {
                height.min(CHART_BELOW)
            } else {
                height
            };
            Bar {
                x: i * BAR_STEP + 2,
                y: if *net >= 0 {
                    CHART_HEIGHT - height
                } else {
                    CHART_HEIGHT
                },
                height,
                negative: *net < 0,
                label: format!("{}: {}", day.format("%-d %b"), site::money(*net, currency)),
            }
        })
        .collect();
    Chart {
        bars,
        max: site::money(peak, currency),
        first: days
            .first()
            .map(|(d, _)| d.format("%-d %b").to_string())
            .unwrap_or_default(),
        last: days
            .last()
            .map(|(d, _)| d.format("%-d %b").to_string())
            .unwrap_or_default(),
        total: site::money(days.iter().map(|(_, v)| v).sum(), currency),
    }
}

/// A row of the dashboard's tables.
struct Line {
    when: String,
    what: String,
    who: String,
    amount: String,
    net: String,
}

#[derive(Template)]
#[template(path = "creators/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    handle: String,
    subscribers: i64,
    /// Per currency: everything earned, what reached the creator's account at the rail,
    /// what the platform paid to their bank, and what it holds for them
    /// (earned = paid + paid out + owed).
    earned: Vec<String>,
    paid: Vec<String>,
    paid_out: Vec<String>,
    owed: Vec<String>,
    chart: Chart,
    months: Vec<Line>,
    recent: Vec<Line>,
    cards: Vec<Card>,
}

/// One figure of each currency's balance, as people read it.
fn figures(
    balances: &[crate::billing::types::Balance],
    figure: fn(&crate::billing::types::Balance) -> i64,
) -> Vec<String> {
    balances
        .iter()
        .map(|b| site::money(figure(b), &b.currency))
        .collect()
}

/// `GET /dashboard`: the creator's subscribers, earnings and posts.
pub(super) async fn dashboard(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let Some(creator) = super::by_user(&state.db, user.user.id.0).await? else {
        return Ok(Redirect::to("/settings/creator").into_response());
    };
    let e = crate::billing::earnings(&state, creator.user_id).await?;
    let listing = match posts::creator_page(
        &state,
        Some(&user.user),
        &creator.handle,
        posts::Cursor::start(),
        posts::DEFAULT_PAGE,
    )
    .await?
    {
        CreatorPage::Page(l) => l,
        CreatorPage::MovedTo(_) => return Err(AppError::NotFound),
    };
    let page = DashboardPage {
        layout,
        subscribers: e.subscribers,
        earned: figures(&e.balances, |b| b.earned_minor),
        paid: figures(&e.balances, |b| b.paid_to_account_minor),
        paid_out: figures(&e.balances, |b| b.paid_out_minor),
        owed: figures(&e.balances, |b| b.owed_minor),
        chart: chart(&e.by_day, &creator.currency, Utc::now().date_naive()),
        months: e
            .by_month
            .iter()
            .map(|p| Line {
                when: p.period.clone(),
                what: String::new(),
                who: String::new(),
                amount: site::money(p.gross_minor, &p.currency),
                net: site::money(p.net_minor, &p.currency),
            })
            .collect(),
        recent: e
            .recent
            .iter()
            .map(|t| Line {
                when: t.occurred_at.format("%-d %b %Y %H:%M").to_string(),
                what: match t.kind {
                    EntryKind::Subscription => "Subscription".to_owned(),
                    EntryKind::Ppv => "Post unlocked".to_owned(),
                    EntryKind::Message => "Message unlocked".to_owned(),
                    EntryKind::Tip => match &t.message {
                        Some(m) if !m.is_empty() => format!("Tip: “{m}”"),
                        _ => "Tip".to_owned(),
                    },
                    EntryKind::Refund => "Refund".to_owned(),
                    EntryKind::Dispute => "Dispute".to_owned(),
                    EntryKind::Transfer => "Transferred to your account".to_owned(),
                    EntryKind::Payout => "Paid to your bank".to_owned(),
                },
                who: t.fan_name.clone().unwrap_or_default(),
                amount: site::money(t.gross_minor, &t.currency),
                net: site::money(t.net_minor, &t.currency),
            })
            .collect(),
        cards: posts::cards(&listing),
        handle: creator.handle,
    };
    Ok(site::render(&page, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::PeriodView;

    fn day(period: &str, currency: &str, net: i64) -> PeriodView {
        PeriodView {
            period: period.into(),
            currency: currency.into(),
            gross_minor: net,
            platform_fee_minor: 0,
            net_minor: net,
        }
    }

    #[test]
    fn the_chart_has_a_bar_per_day_scaled_to_the_best_day_in_one_currency() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let c = chart(
            &[
                day("2026-11-28", "EUR", 1000),
                day("2026-11-27", "EUR", -250),
                day("2026-11-27", "USD", 99_999),
                day("2026-10-01", "EUR", 5000),
            ],
            "EUR",
            today,
        );
        assert_eq!(c.bars.len(), 30);
        let last = &c.bars[29];
        assert_eq!(
            (last.height, last.y, last.negative),
            (CHART_HEIGHT, 0, false)
        );
        assert_eq!(last.label, "28 Nov: 10.00 EUR");
        let before = &c.bars[28];
        assert_eq!(
            (before.height, before.y, before.negative),
            (27, CHART_HEIGHT, true)
        );
        let deep = chart(
            &[
                day("2026-11-28", "EUR", 100),
                day("2026-11-27", "EUR", -5000),
            ],
            "EUR",
            today,
        );
        assert_eq!(
            deep.bars[28].height, CHART_BELOW,
            "cut at the room below the line"
        );
        assert!(c.bars[..28].iter().all(|b| b.height == 0));
        assert_eq!(c.max, "10.00 EUR");
        assert_eq!(c.total, "7.50 EUR");
        assert_eq!((c.first.as_str(), c.last.as_str()), ("30 Oct", "28 Nov"));
    }
}
