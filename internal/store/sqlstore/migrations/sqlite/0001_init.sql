CREATE TABLE objects (
    kind       TEXT    NOT NULL,
    project    TEXT    NOT NULL,
    parent     TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL,
    ordinal    INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, project, parent, name)
);
CREATE INDEX objects_list ON objects (kind, project, parent, ordinal, name);
CREATE INDEX objects_project ON objects (project);

CREATE TABLE sequences (
    scope TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE tokens (
    id          TEXT    PRIMARY KEY,
    hash        TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    header       BLOB,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
