-- Database and least-privilege roles for a shared automl store (PostgreSQL 15 or later).
-- Run once as a superuser (or a role with CREATEROLE and CREATEDB), with the two passwords in
-- the environment so they appear on no command line:
--   AUTOML_OWNER_PASSWORD=... AUTOML_WORKER_PASSWORD=... psql -v ON_ERROR_STOP=1 -f roles.sql
-- automl_owner owns the database: the first `automl fit --store postgres://automl_owner@...`
-- creates the tables (migrations run when the store is opened) and it is the role of the
-- coordinator. automl_worker reads and writes rows and nothing else (no DDL, no DELETE):
-- the role for `automl worker` and for people who only read (`leaderboard`, `ui`, ...).
\getenv owner_password AUTOML_OWNER_PASSWORD
\getenv worker_password AUTOML_WORKER_PASSWORD
\if :{?owner_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'roles.sql: set AUTOML_OWNER_PASSWORD in the environment of psql'; END $$;
\endif
\if :{?worker_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'roles.sql: set AUTOML_WORKER_PASSWORD in the environment of psql'; END $$;
\endif

CREATE ROLE automl_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE automl_worker LOGIN PASSWORD :'worker_password';
CREATE DATABASE automl OWNER automl_owner;
-- Only these two roles may connect.
REVOKE ALL ON DATABASE automl FROM PUBLIC;
GRANT CONNECT ON DATABASE automl TO automl_owner, automl_worker;

\connect automl
-- PostgreSQL 15 already denies CREATE on schema public to PUBLIC; older servers do not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO automl_worker;
-- Whatever automl_owner creates later (the tables of every migration, in any schema) is
-- readable and writable by automl_worker, without DDL and without DELETE.
ALTER DEFAULT PRIVILEGES FOR ROLE automl_owner GRANT USAGE ON SCHEMAS TO automl_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE automl_owner GRANT SELECT, INSERT, UPDATE ON TABLES TO automl_worker;
ALTER DEFAULT PRIVILEGES FOR ROLE automl_owner GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO automl_worker;
