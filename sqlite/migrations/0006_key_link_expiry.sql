-- 0006_key_link_expiry: CreateKeyLink deletes, oldest first, a few links
-- that expired more than modelgate.KeyLinkRetention ago, of any org. This
-- index lets it find them without reading the table: with nothing to
-- delete, it reads one index entry.
--
-- Unlike the other indexes it does not lead with org: the sweep crosses
-- orgs, so that an org that stops making links has its old rows deleted by
-- the next link of any org. Were the tables sharded by org, each shard
-- would sweep its own rows with its own copy of this index.

CREATE INDEX key_links_expires_at ON key_links (expires_at);
