-- 0004_key_links: one-time links where a person enters a key in a browser
-- (CONTRACT.md §7), and the audit columns that record what happens to them.

CREATE TABLE key_links (
    -- org is the org whose secret the link stores. Not a reference to orgs:
    -- a link is made by a refused call, and a refusal creates no org.
    org          TEXT NOT NULL,
    -- id is the public part of the link's token, unique across orgs
    -- (key_links_id): the page looks a link up by it before the org is known.
    id           TEXT NOT NULL,
    -- hash is the SHA-256 of the secret part; the secret is never stored.
    hash         BLOB NOT NULL,
    -- provider needs the key; names are its accepted credential names,
    -- comma-separated (names never hold a comma). Set at creation.
    provider     TEXT NOT NULL,
    names        TEXT NOT NULL,
    -- runtime and model are the refused request (the page says why).
    runtime      TEXT NOT NULL,
    model        TEXT NOT NULL,
    -- token_prefix names the API token of the refused call ('' for stdio).
    token_prefix TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- expires_at: the link stores nothing from this time on.
    expires_at   TEXT NOT NULL,
    -- used_at is when SpendKeyLink spent the link (NULL: unused; set back
    -- to NULL by ReleaseKeyLink when storing the key failed); used_name is
    -- the name the person chose.
    used_at      TEXT,
    used_name    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org, id)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX key_links_id ON key_links (id);

-- event is '' for a gate decision of provision_workspace, or a key link
-- event (key_link_used, key_link_refused, key_link_expired); key_link is
-- the link the entry is about (on a refusal: the link made for it);
-- secret_name is the name a link stored. Never a value.
ALTER TABLE audit ADD COLUMN event       TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN key_link    TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN secret_name TEXT NOT NULL DEFAULT '';
