-- Run as a superuser inside a Gridwork database: PostGIS, and the runtime role's rights.
-- The runtime role `gridwork_app` reads and writes rows; only the owner `gridwork` changes the
-- schema (migrations). Tables the owner creates later are granted through default privileges.
CREATE EXTENSION IF NOT EXISTS postgis;
GRANT USAGE ON SCHEMA public TO gridwork_app;
GRANT CREATE ON SCHEMA public TO gridwork;
ALTER DEFAULT PRIVILEGES FOR ROLE gridwork IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gridwork_app;
ALTER DEFAULT PRIVILEGES FOR ROLE gridwork IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO gridwork_app;
ALTER DEFAULT PRIVILEGES FOR ROLE gridwork IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO gridwork_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO gridwork_app;
