"""What each scenario key means, for ``sessionsim schema`` (editors show it on hover).

Kept beside the models rather than in them so that the model code stays short; a test
holds every field of the schema to having a description here.
"""

from __future__ import annotations

__all__ = ["describe"]

FIELDS: dict[str, dict[str, str]] = {
    "RunScenario": {
        "seed": "Random seed: the same scenario and seed give byte-identical outputs.",
        "start": "Simulated start, ISO 8601 with a time zone (1971 to 9000).",
        "duration": "Simulated time to cover (at most 400d).",
        "emit_search_id": "Put a search_id on search, results and click events.",
        "population": "Who the users are and how they differ.",
        "arrivals": "When visits start: hourly and weekday profiles, bursts.",
        "visit": "What happens inside a visit (a true session).",
        "queries": "The query stream and the results pages.",
        "backend": "The shared search service.",
        "clicks": "The click model and its parameters.",
        "delivery": "From client to collector: SDK batches, network, faults.",
        "sessionizers": "The sessionizer settings `sessionsim run` checks (each a setting).",
        "load": "A live run's target rate over wall time: steps and ramps (needs --realtime).",
        "gates": "Thresholds KEY OP NUMBER over each report (run, check) or the live "
        "summary (stream), as --gate.",
    },
    "LoadStage": {
        "at": "Wall time since the start at which this stage begins.",
        "rate": "Target events per wall second.",
        "ramp": "Reach the rate linearly over this long, from the previous stage's.",
    },
    "Population": {
        "users": "Number of users (below 2^24).",
        "locales": "Weights of the users' locales (their country and local time).",
        "platforms": "Weights of ios, android and web devices.",
        "mobile_split": "by_country: phones split iOS/Android as in the user's country "
        "(StatCounter 2025), web keeps its share of platforms; scenario: platforms as given.",
        "visits_per_day": "Visits a user starts per day: lognormal across users.",
        "click_propensity": "A user's click multiplier: lognormal across users.",
        "patience": "How long a user waits for results before giving up.",
        "min_visit_gap": "Least time between the end of a visit and the next.",
        "joins_per_day": "Share of the users who install the app on each day of the run.",
        "churn_per_day": "Share of the active users who stop for good each day.",
    },
    "Spread": {
        "median": "The median of the trait across users.",
        "sigma": "Lognormal spread (0: every user equal).",
    },
    "Burst": {
        "at": "When the burst starts, after the scenario's start.",
        "length": "How long it lasts.",
        "factor": "Visit rate multiplier during the burst (at most 1000).",
    },
    "Arrivals": {
        "hourly_weights": "24 weights of the visit rate by hour of the user's local day.",
        "weekday_weights": "7 weights of the visit rate, Monday to Sunday.",
        "bursts": "Windows in which every user's visit rate is multiplied.",
    },
    "Visit": {
        "no_search_prob": "Share of visits with no search.",
        "searches_mean": "Mean number of searches in a visit with a search (geometric).",
        "max_searches": "At most this many searches in a visit.",
        "first_search": "Time from app open to the first search.",
        "scan_time": "Time looking at results before the first click or leaving.",
        "dwell_time": "Time on a clicked result before coming back.",
        "reformulation": "Time from the last action on a search to the next search.",
        "close_after": "Time from the last action to closing the app.",
        "long_pause_prob": "Chance of a long pause before a next search.",
        "long_pause": "Length of a long pause.",
        "silent_close_prob": "Chance a visit ends without an app_close event.",
        "return_prob": "Chance a visit is followed by a return soon after (at most 0.9).",
        "return_after": "Time from a visit's end to the return.",
    },
    "Queries": {
        "head": "Number of shared head queries (Zipf distributed).",
        "zipf_exponent": "Zipf exponent of the head.",
        "tail_share": "Share of searches drawn from the open-ended tail.",
        "catalog": "Number of distinct items results can show (at most 10^9).",
        "candidates": "Candidate items per query, ranked per search.",
        "results_per_page": "Items shown per results page.",
        "ranking_noise": "Gaussian noise added to relevance when ranking (per search).",
        "difficulty": "How much queries differ in how many relevant items they have.",
        "zero_result_rate": "Share of new queries that find nothing (edited, misspelled, long "
        "and rare ones more often).",
        "typo_rate": "Share of new queries typed with a misspelling.",
        "reformulation_prob": "Share of a visit's later searches that edit the previous query.",
        "refind_prob": "Share of visits whose first search repeats one of the user's queries.",
        "reclick_prob": "Chance that a repeated query's earlier click is clicked again.",
    },
    "Backend": {
        "replicas": "Replicas behind a sticky load balancer (what --processes shards by).",
        "servers": "FCFS servers per replica.",
        "service_time": "Time a server takes to answer one search.",
        "round_trip": "The network round trip before the results reach the device.",
    },
    "Clicks": {
        "model": "Click model: dbn, dcm, pbm or cascade.",
        "attractiveness": "Click probability of an examined item, by relevance grade.",
        "grade_weights": "Weights of the relevance grades among candidates.",
        "satisfaction": "DBN: chance a click satisfies the user, by grade.",
        "continuation": "DBN: chance of examining the next rank when not satisfied.",
        "examination_decay": "PBM: rank r is examined with r ** -decay.",
        "out_of_order_prob": "Share of searches with 2+ clicks that click out of rank order.",
        "repeat_prob": "Chance that a click is followed by another on the same item.",
        "dcm_continuation": "DCM: chance of continuing after a click, by rank.",
    },
    "PerType": {
        kind: f"Probability for {kind} events."
        for kind in ("app_open", "search", "results", "click", "app_close")
    },
    "Offline": {
        "rate_per_day": "Upload outages per device and day.",
        "unflushed_tail_prob": "Chance the app dies with events still queued (sent next launch).",
        "duration": "How long an outage lasts.",
    },
    "Duplicates": {
        "prob": "Chance an event is delivered again, per type.",
        "batch_retry_prob": "Chance a whole batch is sent again (may land after newer ones).",
        "delay": "Time from a delivery to its repeat.",
    },
    "ClockSkew": {
        "offset_sd": "Standard deviation of a device's clock offset.",
        "drift_ppm_sd": "Standard deviation of a device's clock drift, parts per million.",
    },
    "FlushPolicy": {
        "flush_at": "Send the queue at this many events.",
        "flush_interval": "Send the queue this often while the app runs.",
        "max_batch": "At most this many events per request.",
    },
    "Delivery": {
        "delay": "Network delay of one request.",
        "sdk": "SDK flush policy per platform (defaults: Segment/PostHog mobile, analytics.js).",
        "parallel_requests": "Requests a device may have in flight (> 1 reorders batches).",
        "offline": "Outages and killed apps: events that arrive together, hours late.",
        "duplicates": "At-least-once retries: the same event_id delivered again.",
        "loss": "Chance an event is never delivered, per type.",
        "clock_skew": "Device clocks off the true time.",
    },
    "SessionizerSpec": {
        "sessionizer": "A built-in name, an installed plugin's name, or module:attribute.",
        "label": "The setting's name in reports (default: the sessionizer's).",
        "gap": "Inactivity that closes a session.",
        "lateness": "Allowed lateness of the watermark.",
        "split_on_app_open": "Start a new session at each app_open.",
        "close_on_app_close": "Close the session after an app_close.",
        "attribution": "Attribute clicks to searches by time or by search_id.",
        "dedup": "Drop repeated deliveries of an event_id.",
        "watermark": "global: one watermark for the stream; per_user: one per user.",
        "idle": "Per-user watermark: wait this long past a quiet user's gap.",
        "options": "The engine's own options (bytewax: workers, processes).",
    },
    "LogNormal": {
        "dist": "lognormal",
        "median": "Median duration.",
        "sigma": "Spread of the log.",
    },
    "Weibull": {"dist": "weibull", "scale": "Scale duration.", "shape": "Shape (< 1: heavy)."},
    "Exponential": {"dist": "exponential", "mean": "Mean duration."},
    "Constant": {"dist": "constant", "value": "The duration."},
}


def describe(schema: dict) -> dict:
    """Add the descriptions above to a scenario JSON Schema (in place); return it."""
    for name, node in [("RunScenario", schema), *schema.get("$defs", {}).items()]:
        docs = FIELDS.get(name, {})
        for key, prop in node.get("properties", {}).items():
            if key in docs and "description" not in prop:
                prop["description"] = docs[key]
    return schema
