-- The source's own classification of an attempt (PowerMTA bounceCat, KumoMTA
-- bounce_classification, SES bounce type, SendGrid type, Mailgun severity) and
-- its reading in bounced's taxonomy (classify.Crosswalk): `bounced report --by
-- disagreement` shows where bounced and the source differ. Empty when the
-- source gave none, or nothing comparable.
ALTER TABLE attempts ADD COLUMN source_scheme LowCardinality(String) DEFAULT '' AFTER rule;
ALTER TABLE attempts ADD COLUMN source_value LowCardinality(String) DEFAULT '' AFTER source_scheme;
ALTER TABLE attempts ADD COLUMN source_class LowCardinality(String) DEFAULT '' AFTER source_value;
ALTER TABLE attempts ADD COLUMN source_label LowCardinality(String) DEFAULT '' AFTER source_class;
