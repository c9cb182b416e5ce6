//! The exact SQL psql 15 sends for `\dt`, `\d`, `\d NAME`, `\d+ NAME`, `\dt+`, `\dn` and `\l`
//! (captured with `psql -E` from psql 15.18 against a PostgreSQL 15 server), run against a
//! catalog holding PAGEVIEWS and USERS.

mod common;

use common::{catalog, columns, rows};

/// `\dt`
const DT: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\d`
const D: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','v','m','S','f','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\dt+`
const DT_PLUS: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\d NAME`: step 1, find the relation (`@PATTERN@` is psql's regex: `pageviews` for both `\d pageviews` and `\d PAGEVIEWS`, `PAGEVIEWS` for `\d "PAGEVIEWS"`).
const D_LOOKUP: &str = r#"SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(@PATTERN@)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;"#;

/// `\d NAME`: table flags (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_TABLE: &str = r#"SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '@OID@';"#;

/// `\d NAME`: columns (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_COLUMNS: &str = r#"SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '@OID@' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"#;

/// `\d NAME`: row-level security policies (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_POLICIES: &str = r#"SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '@OID@' ORDER BY 1;"#;

/// `\d NAME`: extended statistics (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_STATISTICS: &str = r#"SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '@OID@'
ORDER BY nsp, stxname;"#;

/// `\d NAME`: publications (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_PUBLICATIONS: &str = r#"SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='@OID@' and pg_catalog.pg_relation_is_publishable('@OID@')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '@OID@'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('@OID@')
ORDER BY 1;"#;

/// `\d NAME`: inheritance parents (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_PARENTS: &str = r#"SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '@OID@'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;"#;

/// `\d NAME`: partitions / inheritance children (`@OID@` is the oid found by [`D_LOOKUP`]).
const D_CHILDREN: &str = r#"SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '@OID@'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;"#;

/// `\d+ NAME`: table flags with reloptions.
const DP_TABLE: &str = r#"SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')
, c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '@OID@';"#;

/// `\d+ NAME`: columns with storage, compression, statistics target and comment.
const DP_COLUMNS: &str = r#"SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated,
  a.attstorage,
  a.attcompression AS attcompression,
  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,
  pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '@OID@' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;"#;

/// `\dt+ pageviews`.
const DT_PLUS_PATTERN: &str = r#"SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','t','s','')
  AND c.relname OPERATOR(pg_catalog.~) '^(pageviews)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;"#;

/// `\d public.pageviews`: step 1 with a schema pattern.
const D_QUALIFIED: &str = r#"SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(pageviews)$' COLLATE pg_catalog.default
  AND n.nspname OPERATOR(pg_catalog.~) '^(public)$' COLLATE pg_catalog.default
ORDER BY 2, 3;"#;

/// `\dn`
const DN: &str = r#"SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;"#;

/// `\l`
const L: &str = r#"SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;"#;

fn with_oid(sql: &str, oid: &str) -> String {
    sql.replace("@OID@", oid)
}

/// `\d NAME` step 1: the (oid, schema, name) rows psql would describe.
async fn lookup(catalog: &sluice_pgcatalog::PgCatalog, pattern: &str) -> Vec<Vec<String>> {
    let sql = D_LOOKUP.replace("@PATTERN@", pattern);
    rows(&catalog.execute(&sql).await.expect("lookup query"))
}

#[tokio::test]
async fn dt_lists_both_relations_as_tables() {
    let catalog = catalog().await;
    let out = catalog.execute(DT).await.expect("\\dt");
    assert_eq!(columns(&out), vec!["Schema", "Name", "Type", "Owner"]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..3], ["public", "PAGEVIEWS", "table"]);
    assert_eq!(rows[1][..3], ["public", "USERS", "table"]);
}

#[tokio::test]
async fn d_lists_both_relations_and_follows_set_relations() {
    let catalog = catalog().await;
    let names: Vec<String> = rows(&catalog.execute(D).await.expect("\\d"))
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(names, vec!["PAGEVIEWS", "USERS"]);

    // Drop USERS, add CLICKS: the listing follows.
    let mut relations = common::relations();
    relations.remove(1);
    relations.push(sluice_pgcatalog::Relation::new(
        "CLICKS",
        relations[0].schema.clone(),
        sluice_pgcatalog::RelationKind::Stream,
    ));
    catalog.set_relations(relations).unwrap();
    let names: Vec<String> = rows(&catalog.execute(D).await.expect("\\d"))
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(names, vec!["CLICKS", "PAGEVIEWS"]);
}

#[tokio::test]
async fn d_name_finds_the_relation_whatever_the_case() {
    let catalog = catalog().await;
    // `\d pageviews` and `\d PAGEVIEWS` (psql lower-cases both) and `\d "PAGEVIEWS"`.
    for pattern in ["pageviews", "PAGEVIEWS"] {
        let found = lookup(&catalog, pattern).await;
        assert_eq!(found.len(), 1, "{pattern}: {found:?}");
        assert_eq!(found[0][1..], ["public", "PAGEVIEWS"], "{pattern}");
        assert!(found[0][0].parse::<u32>().is_ok(), "oid {:?}", found[0][0]);
    }
    // A wildcard pattern (`\d page*`) and a miss.
    assert_eq!(lookup(&catalog, "page.*").await.len(), 1);
    assert!(lookup(&catalog, "nope").await.is_empty());
    // The upper-case pattern of a quoted mixed spelling does not match.
    assert!(lookup(&catalog, "PageViews").await.is_empty());
}

#[tokio::test]
async fn d_qualified_name_matches_schema_too() {
    let catalog = catalog().await;
    let found = rows(
        &catalog
            .execute(D_QUALIFIED)
            .await
            .expect("\\d public.pageviews"),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0][2], "PAGEVIEWS");
}

#[tokio::test]
async fn d_name_describes_columns_and_types() {
    let catalog = catalog().await;
    let found = lookup(&catalog, "pageviews").await;
    let oid = found[0][0].clone();

    let table = rows(
        &catalog
            .execute(&with_oid(D_TABLE, &oid))
            .await
            .expect("table flags"),
    );
    assert_eq!(table.len(), 1, "{table:?}");
    // relchecks, relkind
    assert_eq!(table[0][1], "r");

    let cols = rows(
        &catalog
            .execute(&with_oid(D_COLUMNS, &oid))
            .await
            .expect("columns"),
    );
    let described: Vec<(String, String, String)> = cols
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        described,
        vec![
            ("USER_ID".into(), "text".into(), "false".into()),
            ("PAGE".into(), "text".into(), "false".into()),
            ("MS".into(), "bigint".into(), "false".into()),
        ]
    );

    // The remaining \d queries must run (psql aborts the description on any error) and find
    // nothing: Sluice has no policies, statistics, publications or inheritance.
    for (what, sql) in [
        ("policies", D_POLICIES),
        ("statistics", D_STATISTICS),
        ("publications", D_PUBLICATIONS),
        ("parents", D_PARENTS),
        ("children", D_CHILDREN),
    ] {
        let out = catalog
            .execute(&with_oid(sql, &oid))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(rows(&out).is_empty(), "{what}");
    }
}

#[tokio::test]
async fn d_name_maps_every_ksql_type() {
    let catalog = catalog().await;
    let found = lookup(&catalog, "users").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let cols = rows(
        &catalog
            .execute(&with_oid(D_COLUMNS, &found[0][0]))
            .await
            .expect("columns"),
    );
    let described: Vec<(&str, &str, &str)> = cols
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        described,
        vec![
            ("USERID", "text", "true"),
            ("REGIONID", "text", "false"),
            ("SCORE", "double precision", "false"),
            ("ACTIVE", "boolean", "false"),
            ("REGISTERED", "timestamp without time zone", "false"),
            ("VISITS", "integer", "false"),
        ]
    );
}

#[tokio::test]
async fn d_plus_name_runs() {
    let catalog = catalog().await;
    let oid = lookup(&catalog, "pageviews").await[0][0].clone();
    let table = rows(
        &catalog
            .execute(&with_oid(DP_TABLE, &oid))
            .await
            .expect("\\d+ table"),
    );
    assert_eq!(table.len(), 1);
    let cols = rows(
        &catalog
            .execute(&with_oid(DP_COLUMNS, &oid))
            .await
            .expect("\\d+ columns"),
    );
    let names: Vec<&str> = cols.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, vec!["USER_ID", "PAGE", "MS"]);
}

#[tokio::test]
async fn dt_plus_shows_the_ksql_kind_as_description() {
    let catalog = catalog().await;
    let out = catalog.execute(DT_PLUS).await.expect("\\dt+");
    let all = rows(&out);
    let described: Vec<(&str, &str)> = all.iter().map(|r| (r[1].as_str(), r[7].as_str())).collect();
    assert_eq!(described, vec![("PAGEVIEWS", "STREAM"), ("USERS", "TABLE")]);
    assert_eq!(all[0][6], "0 bytes");

    let one = rows(
        &catalog
            .execute(DT_PLUS_PATTERN)
            .await
            .expect("\\dt+ pageviews"),
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0][1], "PAGEVIEWS");
}

#[tokio::test]
async fn dn_and_l_list_schema_and_database() {
    let catalog = catalog().await;
    let schemas: Vec<String> = rows(&catalog.execute(DN).await.expect("\\dn"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(schemas.contains(&"public".to_string()), "{schemas:?}");
    let dbs: Vec<String> = rows(&catalog.execute(L).await.expect("\\l"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(dbs.contains(&"sluice".to_string()), "{dbs:?}");
}
