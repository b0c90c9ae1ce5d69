-- 0001_init: the first schema of modelgate (SQLite).
--
-- The same tables, columns and meanings as postgres/migrations/0001_init.sql;
-- only the types differ. Tables are STRICT (a value of the wrong type is an
-- error, not a silent conversion) and WITHOUT ROWID (rows are stored in
-- primary-key order, so one org's rows stay together).
--
-- Types: a UUID is TEXT in canonical lower-case form; a boolean is INTEGER 0
-- or 1; a time is TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ' in UTC, always with six
-- fractional digits, so that comparing the text compares the times.
-- Text columns that may be absent are '' rather than NULL, except where NULL
-- carries a meaning (an optional reference, an unset lease, a missing time).
--
-- As in PostgreSQL, the only foreign key is a workspace's parent; rows
-- written together with what they refer to (an org's rows and its row in
-- orgs, a workspace's secrets and events) rely on the writing transaction,
-- and the tests check after every test that no row refers to a missing
-- org or workspace.

CREATE TABLE orgs (
    -- org is the tenant name: the configured org of a stdio server or the org
    -- of an API token. Inserted (if missing) by every store method that
    -- inserts a row for the org, in the same transaction, so every org named
    -- in another table (but audit) is here; never updated or deleted.
    org        TEXT NOT NULL PRIMARY KEY,
    -- created_at is when the first such write happened.
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE workspaces (
    -- org owns the workspace; every query is scoped by it.
    org              TEXT    NOT NULL,
    -- id is a random UUID chosen by CreateWorkspace.
    id               TEXT    NOT NULL,
    -- name is what the user called the workspace; unique per org among rows
    -- whose status is not 'removed' (workspaces_live_name). Set at creation.
    name             TEXT    NOT NULL,
    -- role is free text describing what the workspace is for. Set at creation.
    role             TEXT    NOT NULL,
    -- tier is the size class 1..4. Set at creation.
    tier             INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 4),
    -- runtime, model, provider and platform_billed are what the gate derived
    -- when provision_workspace created the row; never updated (the
    -- provisioner re-derives before it starts the workspace).
    runtime          TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    platform_billed  INTEGER NOT NULL CHECK (platform_billed IN (0, 1)),
    -- credential_scope is where the gate found the credential at creation:
    -- platform, workspace, org or unverified (fail-open).
    credential_scope TEXT    NOT NULL,
    -- status is provisioning (set by CreateWorkspace), online or failed (set
    -- by the provisioner through FinishWorkspace, or failed by
    -- ExpireProvisioning), or removed (set by DeprovisionWorkspace).
    status           TEXT    NOT NULL
        CHECK (status IN ('provisioning', 'online', 'failed', 'removed')),
    -- status_code and status_message explain a failed status (for example
    -- MISSING_BYOK_CREDENTIAL, DRIVER_FAILED, PROVISION_TIMEOUT); written with
    -- status, '' when there is nothing to explain. They hold no secret.
    status_code      TEXT    NOT NULL,
    status_message   TEXT    NOT NULL,
    -- parent_id is an optional workspace of the same org, checked by
    -- CreateWorkspace and by the foreign key. Set at creation.
    parent_id        TEXT,
    -- idempotency_key is the caller's key of the provision call that created
    -- the row (NULL when none was given); unique per org, so a repeated call
    -- finds this row instead of creating another.
    idempotency_key  TEXT,
    -- attempts counts driver attempts; incremented by RecordAttempt while a
    -- provisioner holds the lease.
    attempts         INTEGER NOT NULL,
    -- lease_owner and lease_expires_at are the provisioner's claim on a
    -- provisioning row: set by ClaimWorkspaces, cleared when the row leaves
    -- provisioning. An expired lease may be claimed by another provisioner;
    -- until then its owner may still finish the row.
    lease_owner      TEXT,
    lease_expires_at TEXT,
    -- created_at is when CreateWorkspace inserted the row.
    created_at       TEXT    NOT NULL,
    -- updated_at is when a field the user can see (status, status_code,
    -- status_message, attempts) last changed; leases do not change it.
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (org, id),
    FOREIGN KEY (org, parent_id) REFERENCES workspaces (org, id)
) STRICT, WITHOUT ROWID;

-- The name of a live workspace is unique in its org; removing a workspace
-- frees its name.
CREATE UNIQUE INDEX workspaces_live_name ON workspaces (org, name) WHERE status <> 'removed';
-- One workspace per idempotency key and org.
CREATE UNIQUE INDEX workspaces_idempotency_key ON workspaces (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- ListWorkspaces pages by (created_at, id) within an org.
CREATE INDEX workspaces_page ON workspaces (org, created_at, id);
-- The provisioning queue: only rows in flight, so ClaimWorkspaces and
-- ExpireProvisioning, which look across orgs, read a small index.
CREATE INDEX workspaces_provisioning ON workspaces (org, created_at, id) WHERE status = 'provisioning';

CREATE TABLE workspace_secrets (
    -- org and workspace_id name the workspace the secret was given with.
    org          TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    -- name is the environment variable name (for example ANTHROPIC_API_KEY).
    name         TEXT NOT NULL,
    -- key_id names the key that sealed ciphertext; RotateSecrets rewrites
    -- key_id and ciphertext when the current key changes.
    key_id       TEXT NOT NULL,
    -- ciphertext is the sealed value (nonce || AES-256-GCM ciphertext). The
    -- store never sees the plaintext.
    ciphertext   BLOB NOT NULL,
    -- updated_at is when the value was set: inserted with the workspace by
    -- CreateWorkspace. Re-sealing by RotateSecrets keeps the same value and
    -- does not change it. DeprovisionWorkspace deletes the row.
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (org, workspace_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE org_secrets (
    -- org owns the secret.
    org        TEXT NOT NULL,
    -- name is the environment variable name; unique per org.
    name       TEXT NOT NULL,
    -- key_id and ciphertext are as in workspace_secrets; written by
    -- SetOrgSecret and by RotateSecrets.
    key_id     TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    -- created_at is when SetOrgSecret first stored the name.
    created_at TEXT NOT NULL,
    -- updated_at is when SetOrgSecret last stored a value; RotateSecrets does
    -- not change it. Shown by list_org_secrets.
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    -- org is the org the token acts for.
    org          TEXT    NOT NULL,
    -- prefix is the public first part of the token, unique across orgs
    -- (tokens_prefix): a request names its token by it before the org is known.
    prefix       TEXT    NOT NULL,
    -- name is the operator's label for the token.
    name         TEXT    NOT NULL,
    -- hash is the hash of the secret part, computed by the caller; the
    -- secret itself is never stored.
    hash         BLOB    NOT NULL,
    -- read_only limits the token to the read-only tools. Set at creation.
    read_only    INTEGER NOT NULL CHECK (read_only IN (0, 1)),
    -- created_at is when CreateToken stored the token.
    created_at   TEXT    NOT NULL,
    -- last_used_at is the latest use recorded by TouchToken (NULL: never used).
    last_used_at TEXT,
    -- revoked_at is when RevokeToken revoked the token (NULL: valid).
    revoked_at   TEXT,
    PRIMARY KEY (org, prefix)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX tokens_prefix ON tokens (prefix);

CREATE TABLE workspace_events (
    -- org and workspace_id name the workspace whose status changed.
    org          TEXT    NOT NULL,
    workspace_id TEXT    NOT NULL,
    -- seq numbers the changes of one workspace from 1, in the order they
    -- happened; write transactions are serialized, so seq cannot race.
    -- (Since 0002 the creation, seq 1, is read from the workspace row and
    -- only the changes after it, from seq 2, are rows here.)
    seq          INTEGER NOT NULL,
    -- from_status and to_status are the statuses before and after ('' before
    -- the creation event).
    from_status  TEXT    NOT NULL,
    to_status    TEXT    NOT NULL,
    -- code is the status_code written with the change ('' if none).
    code         TEXT    NOT NULL,
    -- at is when the change was written, by the same transaction.
    at           TEXT    NOT NULL,
    PRIMARY KEY (org, workspace_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit (
    -- org is the org the provision call acted for. It does not reference orgs: a
    -- refused call from an org that never wrote anything is audited too,
    -- and auditing must not create the org.
    org              TEXT    NOT NULL,
    -- id is a time-ordered UUID (version 7) chosen by AppendAudit; it breaks
    -- ties between entries with the same at.
    id               TEXT    NOT NULL,
    -- at is when the gate decided (given by the caller, or the time of
    -- AppendAudit).
    at               TEXT    NOT NULL,
    -- token_prefix names the API token of the call ('' for stdio).
    token_prefix     TEXT    NOT NULL,
    -- allowed is the gate's decision; code is the refusal code ('' when allowed).
    allowed          INTEGER NOT NULL CHECK (allowed IN (0, 1)),
    code             TEXT    NOT NULL,
    -- runtime, model, provider and credential_scope are what the call asked
    -- for and what the gate derived ('' when it did not get that far).
    runtime          TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    credential_scope TEXT    NOT NULL,
    -- workspace_id is the workspace the call created or found (NULL: none).
    -- Not a foreign key: the audit trail outlives what it describes.
    workspace_id     TEXT,
    -- dry_run is 1 when the call only reported what it would do.
    dry_run          INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    -- ListAudit reads an org's entries by time: the key is that order, so
    -- an append maintains one index.
    PRIMARY KEY (org, at, id)
) STRICT, WITHOUT ROWID;

