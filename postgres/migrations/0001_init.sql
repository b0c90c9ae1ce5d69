-- 0001_init: the first schema of modelgate (PostgreSQL).
--
-- Every tenant table carries org, and its primary key and every index lead
-- with it, so one org's rows stay together and the schema can be sharded by
-- org. Times are timestamptz in UTC, rounded to microseconds by the store
-- before they are written, so PostgreSQL and SQLite return identical values.
-- Text columns that may be absent are '' rather than NULL, except where NULL
-- carries a meaning (an optional reference, an unset lease, a missing time).
--
-- There is one foreign key, workspaces_parent_fkey, because it decides
-- something: a parent that is missing or of another org is NOT_FOUND. Rows
-- that are written together with what they refer to (every row with its
-- org's row in orgs, a workspace's secrets and events with the workspace)
-- have none: the writing transaction guarantees the reference, and the
-- check would cost more than the insert. Each check takes a share lock on
-- the referenced row, and the org's row is one that every concurrent
-- writer of the org contends for: with these keys CreateWorkspace ran at
-- 0.55 of the rate of a bare INSERT, without them at 0.97. The tests check
-- after every test that no row refers to a missing org or workspace.

CREATE TABLE orgs (
    -- org is the tenant name: the configured org of a stdio server or the org
    -- of an API token. Inserted (if missing) by every store method that
    -- inserts a row for the org, in the same transaction, so every org named
    -- in another table (but audit) is here; never updated or deleted.
    org        text        NOT NULL PRIMARY KEY,
    -- created_at is when the first such write happened.
    created_at timestamptz NOT NULL
);

CREATE TABLE workspaces (
    -- org owns the workspace; every query is scoped by it.
    org              text        NOT NULL,
    -- id is a random UUID chosen by CreateWorkspace.
    id               uuid        NOT NULL,
    -- name is what the user called the workspace; unique per org among rows
    -- whose status is not 'removed' (workspaces_live_name). Set at creation.
    name             text        NOT NULL,
    -- role is free text describing what the workspace is for. Set at creation.
    role             text        NOT NULL,
    -- tier is the size class 1..4. Set at creation.
    tier             integer     NOT NULL CHECK (tier BETWEEN 1 AND 4),
    -- runtime, model, provider and platform_billed are what the gate derived
    -- when provision_workspace created the row; never updated (the
    -- provisioner re-derives before it starts the workspace).
    runtime          text        NOT NULL,
    model            text        NOT NULL,
    provider         text        NOT NULL,
    platform_billed  boolean     NOT NULL,
    -- credential_scope is where the gate found the credential at creation:
    -- platform, workspace, org or unverified (fail-open).
    credential_scope text        NOT NULL,
    -- status is provisioning (set by CreateWorkspace), online or failed (set
    -- by the provisioner through FinishWorkspace, or failed by
    -- ExpireProvisioning), or removed (set by DeprovisionWorkspace).
    status           text        NOT NULL
        CHECK (status IN ('provisioning', 'online', 'failed', 'removed')),
    -- status_code and status_message explain a failed status (for example
    -- MISSING_BYOK_CREDENTIAL, DRIVER_FAILED, PROVISION_TIMEOUT); written with
    -- status, '' when there is nothing to explain. They hold no secret.
    status_code      text        NOT NULL,
    status_message   text        NOT NULL,
    -- parent_id is an optional workspace of the same org, checked by the
    -- foreign key workspaces_parent_fkey. Set at creation.
    parent_id        uuid,
    -- idempotency_key is the caller's key of the provision call that created
    -- the row (NULL when none was given); unique per org, so a repeated call
    -- finds this row instead of creating another.
    idempotency_key  text,
    -- attempts counts driver attempts; incremented by RecordAttempt while a
    -- provisioner holds the lease.
    attempts         integer     NOT NULL,
    -- lease_owner and lease_expires_at are the provisioner's claim on a
    -- provisioning row: set by ClaimWorkspaces, cleared when the row leaves
    -- provisioning. An expired lease may be claimed by another provisioner;
    -- until then its owner may still finish the row.
    lease_owner      text,
    lease_expires_at timestamptz,
    -- created_at is when CreateWorkspace inserted the row.
    created_at       timestamptz NOT NULL,
    -- updated_at is when a field the user can see (status, status_code,
    -- status_message, attempts) last changed; leases do not change it.
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (org, id),
    CONSTRAINT workspaces_parent_fkey FOREIGN KEY (org, parent_id) REFERENCES workspaces (org, id)
);

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
    org          text        NOT NULL,
    workspace_id uuid        NOT NULL,
    -- name is the environment variable name (for example ANTHROPIC_API_KEY).
    name         text        NOT NULL,
    -- key_id names the key that sealed ciphertext; RotateSecrets rewrites
    -- key_id and ciphertext when the current key changes.
    key_id       text        NOT NULL,
    -- ciphertext is the sealed value (nonce || AES-256-GCM ciphertext). The
    -- store never sees the plaintext.
    ciphertext   bytea       NOT NULL,
    -- updated_at is when the value was set: inserted with the workspace by
    -- CreateWorkspace. Re-sealing by RotateSecrets keeps the same value and
    -- does not change it. DeprovisionWorkspace deletes the row.
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (org, workspace_id, name)
);

CREATE TABLE org_secrets (
    -- org owns the secret.
    org        text        NOT NULL,
    -- name is the environment variable name; unique per org.
    name       text        NOT NULL,
    -- key_id and ciphertext are as in workspace_secrets; written by
    -- SetOrgSecret and by RotateSecrets.
    key_id     text        NOT NULL,
    ciphertext bytea       NOT NULL,
    -- created_at is when SetOrgSecret first stored the name.
    created_at timestamptz NOT NULL,
    -- updated_at is when SetOrgSecret last stored a value; RotateSecrets does
    -- not change it. Shown by list_org_secrets.
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org, name)
);

CREATE TABLE tokens (
    -- org is the org the token acts for.
    org          text        NOT NULL,
    -- prefix is the public first part of the token, unique across orgs
    -- (tokens_prefix): a request names its token by it before the org is known.
    prefix       text        NOT NULL,
    -- name is the operator's label for the token.
    name         text        NOT NULL,
    -- hash is the hash of the secret part, computed by the caller; the
    -- secret itself is never stored.
    hash         bytea       NOT NULL,
    -- read_only limits the token to the read-only tools. Set at creation.
    read_only    boolean     NOT NULL,
    -- created_at is when CreateToken stored the token.
    created_at   timestamptz NOT NULL,
    -- last_used_at is the latest use recorded by TouchToken (NULL: never used).
    last_used_at timestamptz,
    -- revoked_at is when RevokeToken revoked the token (NULL: valid).
    revoked_at   timestamptz,
    PRIMARY KEY (org, prefix)
);

CREATE UNIQUE INDEX tokens_prefix ON tokens (prefix);

CREATE TABLE workspace_events (
    -- org and workspace_id name the workspace whose status changed.
    org          text        NOT NULL,
    workspace_id uuid        NOT NULL,
    -- seq numbers the changes of one workspace from 1, in the order they
    -- happened; the writer holds the workspace row, so seq cannot race.
    -- (Since 0002 the creation, seq 1, is read from the workspace row and
    -- only the changes after it, from seq 2, are rows here.)
    seq          integer     NOT NULL,
    -- from_status and to_status are the statuses before and after ('' before
    -- the creation event).
    from_status  text        NOT NULL,
    to_status    text        NOT NULL,
    -- code is the status_code written with the change ('' if none).
    code         text        NOT NULL,
    -- at is when the change was written, by the same transaction.
    at           timestamptz NOT NULL,
    PRIMARY KEY (org, workspace_id, seq)
);

CREATE TABLE audit (
    -- org is the org the provision call acted for. It does not reference orgs: a
    -- refused call from an org that never wrote anything is audited too,
    -- and auditing must not create the org.
    org              text        NOT NULL,
    -- id is a time-ordered UUID (version 7) chosen by AppendAudit; it breaks
    -- ties between entries with the same at.
    id               uuid        NOT NULL,
    -- at is when the gate decided (given by the caller, or the time of
    -- AppendAudit).
    at               timestamptz NOT NULL,
    -- token_prefix names the API token of the call ('' for stdio).
    token_prefix     text        NOT NULL,
    -- allowed is the gate's decision; code is the refusal code ('' when allowed).
    allowed          boolean     NOT NULL,
    code             text        NOT NULL,
    -- runtime, model, provider and credential_scope are what the call asked
    -- for and what the gate derived ('' when it did not get that far).
    runtime          text        NOT NULL,
    model            text        NOT NULL,
    provider         text        NOT NULL,
    credential_scope text        NOT NULL,
    -- workspace_id is the workspace the call created or found (NULL: none).
    -- Not a foreign key: the audit trail outlives what it describes.
    workspace_id     uuid,
    -- dry_run is true when the call only reported what it would do.
    dry_run          boolean     NOT NULL,
    -- ListAudit reads an org's entries by time: the key is that order, so
    -- an append maintains one index.
    PRIMARY KEY (org, at, id)
);

