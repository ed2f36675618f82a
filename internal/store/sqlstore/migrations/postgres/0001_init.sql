CREATE TABLE objects (
    kind       TEXT    NOT NULL,
    project    TEXT    NOT NULL,
    parent     TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL,
    ordinal    BIGINT NOT NULL DEFAULT 0,
    generation BIGINT NOT NULL,
    data       BYTEA    NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, project, parent, name)
);
CREATE INDEX objects_list ON objects (kind, project, parent, ordinal, name);
CREATE INDEX objects_project ON objects (project);

CREATE TABLE sequences (
    scope TEXT    PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT    PRIMARY KEY,
    hash        TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       BIGINT NOT NULL,
    header       BYTEA,
    body         BYTEA,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
