-- logscrub's analytics topics in ClickHouse: one table per topic, each record a row.
-- Types follow the JSON Schemas (`logscrub schema logscrub.event/2`, `logscrub schema logscrub.traffic/2`).
-- tests/outputs/test_clickhouse.py loads real `logscrub scrub` output into these very tables (chdb)
-- and runs the queries of docs/analytics.md on them.
--
-- Duplicates: delivery is at-least-once, so a worker that replays a batch writes some records twice,
-- with the same `id`. Both tables are ReplacingMergeTree, which keeps one row per sorting key; each
-- sorting key holds exactly what makes a record's id, so one id is one row:
--   events:  (toDate(time), id). A replayed line's event has its id and its day (both come from the
--            line), but not always its description: a description published coarser the first time
--            may be published finer on the replay (invariant 2 counts clients as they come); nor
--            always its time: one copy may wait for its day's own slot (span '1d', time the day's
--            start). So nothing else of the record may be in the key. Leading with the day keeps
--            time ranges cheap.
--   traffic: (span, dimension, site, window_start, value), the very fields `id` hashes: the key
--            stays the one the queries filter on, and `id` is kept for consumers without it.
-- Merges remove duplicates eventually; queries that must count each record once read with FINAL.

CREATE DATABASE IF NOT EXISTS logscrub;

CREATE TABLE IF NOT EXISTS logscrub.events
(
    `schema`          LowCardinality(String),
    `id`              FixedString(20),
    `time`            DateTime('UTC'),
    `span`            LowCardinality(Nullable(String)),  -- '1d': over its hour's share cap, published with its day
    `site`            LowCardinality(String),
    `method`          LowCardinality(Nullable(String)),
    `path`            Nullable(String),
    `query`           Map(String, String),               -- absent: {}
    `protocol`        LowCardinality(Nullable(String)),
    `status`          Nullable(UInt16),
    `status_class`    LowCardinality(String),
    `bytes`           UInt64,
    `duration_ms`     Nullable(UInt32),                  -- only when the log format has it
    `client`          Nullable(String),                  -- only with events.client network | pseudonym
    `browser`         LowCardinality(String),
    `browser_major`   LowCardinality(Nullable(String)),
    `os`              LowCardinality(String),
    `os_major`        LowCardinality(Nullable(String)),
    `device`          LowCardinality(Nullable(String)),
    `bot`             Nullable(Bool),
    `country`         LowCardinality(Nullable(String)),
    `asn`             Nullable(UInt32),
    `as_org`          Nullable(String),
    `referrer_domain` Nullable(String),
    `referrer_class`  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (toDate(time), id);

CREATE TABLE IF NOT EXISTS logscrub.traffic
(
    `schema`          LowCardinality(String),
    `id`              FixedString(20),
    `window_start`    DateTime('UTC'),
    `window_end`      DateTime('UTC'),
    `span`            LowCardinality(String),            -- 1m windows; 1h, 1d rollups
    `site`            LowCardinality(String),
    `dimension`       LowCardinality(String),
    `value`           String,                            -- '' for total
    `requests`        Nullable(UInt64),                  -- windows only: NULL in rollups
    `bytes`           Nullable(UInt64),                  -- windows only
    `status`          Map(LowCardinality(String), UInt64), -- windows only: {} in rollups
    `visitors`        UInt64,
    `visitors_sketch` Nullable(String)                   -- only with aggregate.publish_sketches
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (span, dimension, site, window_start, value);
