-- The application's own database role, `parcours_app`: data only (SELECT, INSERT, UPDATE,
-- DELETE), no DDL. It owns no table, so it cannot alter one, drop or disable the audit
-- trail's triggers, or TRUNCATE it; migrations run as the owner (docker-compose.yml: the
-- `db-roles` then `migrate` one-shot services, before any app process starts).
--
-- Run as the owner of the read model's database, before and after each migration (it is
-- idempotent). Pure SQL (no psql variables): the password comes from the session setting
-- parcours.app_password, e.g. PGOPTIONS="-c parcours.app_password=...".
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'parcours_app') THEN
    CREATE ROLE parcours_app LOGIN;
  END IF;
  EXECUTE format(
    'ALTER ROLE parcours_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
    'NOBYPASSRLS PASSWORD %L',
    current_setting('parcours.app_password')
  );
END $$;

-- Only the owner creates objects in the schema (PostgreSQL 15+ already does this).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO parcours_app;

-- Tables that exist now, and those the owner's migrations create later.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO parcours_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO parcours_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO parcours_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO parcours_app;
