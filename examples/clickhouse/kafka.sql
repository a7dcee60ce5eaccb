-- Streaming: ClickHouse consumes the analytics topics itself (Kafka engine + materialized views).
-- Run tables.sql first: the queues take the tables' columns, the views copy each message into them.
-- Replace the broker list, and for a secured cluster uncomment the login (the analyst's principal of
-- `logscrub topics acl`; keep the password in a named collection or the server config, not here).
-- The group names start with kafka.analyst_group_prefix (analytics- by default): the only consumer
-- groups the analysts' ACLs allow. A message that does not parse stops the queue (the default
-- kafka_handle_error_mode); the schemas say what every message holds.

CREATE TABLE IF NOT EXISTS logscrub.events_queue AS logscrub.events
ENGINE = Kafka
SETTINGS
    kafka_broker_list = 'kafka-1:9092',
    kafka_topic_list = 'analytics.events',
    kafka_group_name = 'analytics-clickhouse-events',
    kafka_format = 'JSONEachRow',
    -- kafka_security_protocol = 'sasl_ssl', kafka_sasl_mechanism = 'SCRAM-SHA-512',
    -- kafka_sasl_username = 'analyst', kafka_sasl_password = '...',
    date_time_input_format = 'best_effort';  -- reads 2026-11-28T10:00:00Z; the default (basic) does not

CREATE MATERIALIZED VIEW IF NOT EXISTS logscrub.events_consumer TO logscrub.events
AS SELECT * FROM logscrub.events_queue;

CREATE TABLE IF NOT EXISTS logscrub.traffic_queue AS logscrub.traffic
ENGINE = Kafka
SETTINGS
    kafka_broker_list = 'kafka-1:9092',
    kafka_topic_list = 'analytics.traffic',
    kafka_group_name = 'analytics-clickhouse-traffic',
    kafka_format = 'JSONEachRow',
    -- kafka_security_protocol = 'sasl_ssl', kafka_sasl_mechanism = 'SCRAM-SHA-512',
    -- kafka_sasl_username = 'analyst', kafka_sasl_password = '...',
    date_time_input_format = 'best_effort';

CREATE MATERIALIZED VIEW IF NOT EXISTS logscrub.traffic_consumer TO logscrub.traffic
AS SELECT * FROM logscrub.traffic_queue;
