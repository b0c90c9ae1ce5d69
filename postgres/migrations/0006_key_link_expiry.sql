-- 0006_key_link_expiry: two indexes on the expiry of key links, so that
-- CreateKeyLink does its two new checks without reading the table.
--
-- key_links_expires_at: CreateKeyLink deletes, oldest first, a few links
-- that expired more than modelgate.KeyLinkRetention ago, of any org. With
-- nothing to delete, it reads one index entry.
--
-- Unlike the other indexes it does not lead with org: the sweep crosses
-- orgs, so that an org that stops making links has its old rows deleted by
-- the next link of any org. Were the tables sharded by org, each shard
-- would sweep its own rows with its own copy of this index.
--
-- Built in the migration's transaction (not CONCURRENTLY, which cannot run
-- in one), so creating links waits while it builds: one pass over a table
-- of small rows, which only a server that refused for months without this
-- migration has many of.

CREATE INDEX key_links_expires_at ON key_links (expires_at);

-- key_links_unused: CreateKeyLink finds the org's unused links that have
-- not expired, newest first, to retire those past the cap of live links
-- per org (keyentry.Options.MaxLiveLinks). Only unused links are in this
-- index, so it reads at most the cap's number of entries and one more,
-- however many links the org has used or let expire within the retention.
CREATE INDEX key_links_unused ON key_links (org, expires_at) WHERE used_at IS NULL;
