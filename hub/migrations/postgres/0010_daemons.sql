-- The daemons alive on this store, each with the plugins it sends through under a rate_limit:
-- a system's request budget is divided among the daemons using it. A daemon renews its rows
-- every 10 s, each to expire 30 s later by the database's clock; a row past its time, or of a
-- process of the same host that is gone, no longer counts.
CREATE TABLE daemons (
    holder     TEXT NOT NULL,
    plugin     TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (holder, plugin)
);
