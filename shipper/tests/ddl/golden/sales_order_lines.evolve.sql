-- snowcdc schema evolution for sales.order_lines (generated).
ALTER TABLE SNOWCDC.ANALYTICS.SALES_ORDER_LINES RENAME COLUMN SKU TO SKU_CODE;
ALTER TABLE SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY RENAME COLUMN SKU TO SKU_CODE;
ALTER TABLE SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS RENAME COLUMN SKU TO SKU_CODE;
-- New column NOTE: rows merged before it existed hold NULL (a Postgres DEFAULT is not replayed; backfill with UPDATE if needed).
ALTER TABLE SNOWCDC.ANALYTICS.SALES_ORDER_LINES ADD COLUMN NOTE VARCHAR;
ALTER TABLE SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY ADD COLUMN NOTE VARCHAR;
ALTER TABLE SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS ADD COLUMN NOTE VARCHAR;

CREATE OR REPLACE PROCEDURE SNOWCDC.STAGING.MERGE_SALES_ORDER_LINES()
  RETURNS VARCHAR
  LANGUAGE SQL
  EXECUTE AS OWNER
  COMMENT = 'snowcdc: merges pending change records of sales.order_lines'
AS
$$
DECLARE
    pending_records INTEGER DEFAULT 0;
BEGIN
    SELECT COUNT(*) INTO :pending_records FROM SNOWCDC.STAGING.CDC_PENDING WHERE source_schema = 'sales' AND source_table = 'order_lines';
    IF (pending_records = 0) THEN
        RETURN 'nothing pending for sales.order_lines';
    END IF;
    BEGIN TRANSACTION;

    -- 1. the batch: this table's pending records
    DELETE FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH;
    DELETE FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS;
    INSERT INTO SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH (op, lsn, seq, xid, commit_ts, source_schema, source_table, key, before, after, toast, ingested_at)
    SELECT op, lsn, seq, xid, commit_ts, source_schema, source_table, key, before, after, toast, ingested_at
    FROM (
        SELECT p.*, ROW_NUMBER() OVER (PARTITION BY p.lsn, p.seq ORDER BY p.ingested_at) AS rn
        FROM SNOWCDC.STAGING.CDC_PENDING p
        WHERE p.source_schema = 'sales' AND p.source_table = 'order_lines'
    ) d
    WHERE d.rn = 1;

    -- 2. per-key row images, replays dropped, left-out columns carried forward
    INSERT INTO SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS (ORDER_ID, LINE_NO, SKU_CODE, QTY, SHIPPED_ON, NOTE, _ev_kind, _ev_lsn, _ev_seq, _ev_sub, _ev_ts, _ev_kc)
    WITH RECURSIVE
    truncated AS (  -- the last truncate of this table already applied
        SELECT _t_lsn, _t_seq FROM (
            SELECT lsn AS _t_lsn, seq AS _t_seq FROM SNOWCDC.STAGING.CDC_TRUNCATIONS
            WHERE source_schema = 'sales' AND source_table = 'order_lines'
            UNION ALL SELECT -1, -1
        ) l
        ORDER BY _t_lsn DESC, _t_seq DESC
        LIMIT 1
    ),
    kev AS (  -- row images per key; a key change is a delete plus an insert
        SELECT 'U' AS _kind, b.lsn AS _lsn, b.seq AS _seq, CASE WHEN COALESCE(b.op = 'u' AND NOT (b.key:"order_id"::VARCHAR = b.after:"order_id"::VARCHAR AND b.key:"line_no"::NUMBER(10,0) = b.after:"line_no"::NUMBER(10,0)), FALSE) THEN 1 ELSE 0 END AS _sub,
               b.commit_ts AS _ts, COALESCE(b.op = 'u' AND NOT (b.key:"order_id"::VARCHAR = b.after:"order_id"::VARCHAR AND b.key:"line_no"::NUMBER(10,0) = b.after:"line_no"::NUMBER(10,0)), FALSE) AS _kc, b.after AS _img, b.toast AS _toast,
               b.after:"order_id"::VARCHAR AS ORDER_ID, b.after:"line_no"::NUMBER(10,0) AS LINE_NO
        FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH b
        WHERE b.op IN ('c', 'r', 'u')
        UNION ALL
        SELECT 'D', b.lsn, b.seq, 0, b.commit_ts, b.op = 'u', CAST(NULL AS VARIANT), CAST(NULL AS ARRAY),
               b.key:"order_id"::VARCHAR AS ORDER_ID, b.key:"line_no"::NUMBER(10,0) AS LINE_NO
        FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH b
        WHERE b.op = 'd' OR (b.op = 'u' AND COALESCE(b.op = 'u' AND NOT (b.key:"order_id"::VARCHAR = b.after:"order_id"::VARCHAR AND b.key:"line_no"::NUMBER(10,0) = b.after:"line_no"::NUMBER(10,0)), FALSE))
    ),
    applied AS (  -- the last applied (lsn, seq) of each key in the batch
        SELECT w.ORDER_ID, w.LINE_NO, w._cdc_lsn AS _w_lsn, w._cdc_seq AS _w_seq
        FROM SNOWCDC.STAGING.SALES_ORDER_LINES__APPLIED w
        WHERE EXISTS (SELECT 1 FROM kev WHERE kev.ORDER_ID = w.ORDER_ID AND kev.LINE_NO = w.LINE_NO)
    ),
    fresh AS (  -- images not applied yet
        SELECT kev.* FROM kev
        CROSS JOIN truncated tr
        LEFT JOIN applied a ON a.ORDER_ID = kev.ORDER_ID AND a.LINE_NO = kev.LINE_NO
        WHERE (kev._lsn > tr._t_lsn OR (kev._lsn = tr._t_lsn AND kev._seq > tr._t_seq))
          AND (a._w_lsn IS NULL OR (kev._lsn > a._w_lsn OR (kev._lsn = a._w_lsn AND kev._seq > a._w_seq)))
    ),
    truncates AS (  -- truncates not applied yet, each with the one before it
        SELECT b.lsn AS _lsn, b.seq AS _seq, b.commit_ts AS _ts,
               LAG(b.lsn) OVER (ORDER BY b.lsn, b.seq) AS _prev_lsn,
               LAG(b.seq) OVER (ORDER BY b.lsn, b.seq) AS _prev_seq
        FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH b
        CROSS JOIN truncated tr
        WHERE b.op = 't' AND (b.lsn > tr._t_lsn OR (b.lsn = tr._t_lsn AND b.seq > tr._t_seq))
    ),
    truncated_keys AS (  -- a truncate deletes every key alive just before it
        SELECT 'D' AS _kind, z._lsn, z._seq, 0 AS _sub, z._ts, FALSE AS _kc, CAST(NULL AS VARIANT) AS _img,
               CAST(NULL AS ARRAY) AS _toast, z.ORDER_ID, z.LINE_NO
        FROM (
            SELECT t._lsn, t._seq, t._ts, f._kind AS _last_kind, f.ORDER_ID, f.LINE_NO,
                   ROW_NUMBER() OVER (PARTITION BY t._lsn, t._seq, f.ORDER_ID, f.LINE_NO
                                      ORDER BY f._lsn DESC, f._seq DESC, f._sub DESC) AS _rn
            FROM truncates t
            JOIN fresh f ON (f._lsn < t._lsn OR (f._lsn = t._lsn AND f._seq < t._seq))
             AND (t._prev_lsn IS NULL OR (f._lsn > t._prev_lsn OR (f._lsn = t._prev_lsn AND f._seq > t._prev_seq)))
        ) z
        WHERE z._rn = 1 AND z._last_kind = 'U'
        UNION ALL
        SELECT 'D', t._lsn, t._seq, 0, t._ts, FALSE, CAST(NULL AS VARIANT), CAST(NULL AS ARRAY), c.ORDER_ID, c.LINE_NO
        FROM truncates t
        JOIN SNOWCDC.ANALYTICS.SALES_ORDER_LINES c ON (t._lsn > c._cdc_lsn OR (t._lsn = c._cdc_lsn AND t._seq > c._cdc_seq))
        WHERE t._prev_lsn IS NULL
          AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.ORDER_ID = c.ORDER_ID AND f.LINE_NO = c.LINE_NO AND (f._lsn < t._lsn OR (f._lsn = t._lsn AND f._seq < t._seq)))
    ),
    events AS (
        SELECT _kind, _lsn, _seq, _sub, _ts, _kc, _img, _toast, ORDER_ID, LINE_NO FROM fresh
        UNION ALL
        SELECT _kind, _lsn, _seq, _sub, _ts, _kc, _img, _toast, ORDER_ID, LINE_NO FROM truncated_keys
    ),
    numbered AS (  -- key numbers, and segments of each key's images
        SELECT e.*, DENSE_RANK() OVER (ORDER BY e.ORDER_ID, e.LINE_NO) AS _key_no,
            SUM(CASE WHEN e._kind = 'U' AND (e._kc OR e._prev_kind = 'D') THEN 1 ELSE 0 END)
                OVER (PARTITION BY e.ORDER_ID, e.LINE_NO ORDER BY e._lsn, e._seq, e._sub
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _seg
        FROM (
            SELECT e.*, LAG(e._kind) OVER (PARTITION BY e.ORDER_ID, e.LINE_NO ORDER BY e._lsn, e._seq, e._sub) AS _prev_kind
            FROM events e
        ) e
    ),
    links AS (  -- the new key's segment continues the old key's
        SELECT u._key_no, u._seg, d._key_no AS _parent_key_no, d._seg AS _parent_seg
        FROM numbered u
        JOIN numbered d ON d._lsn = u._lsn AND d._seq = u._seq AND d._kind = 'D' AND d._kc
        WHERE u._kind = 'U' AND u._kc
    ),
    lineage (_key_no, _seg, _root_key_no, _root_seg) AS (  -- each segment's root
        SELECT DISTINCT n._key_no, n._seg, n._key_no, n._seg
        FROM numbered n
        WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l._key_no = n._key_no AND l._seg = n._seg)
        UNION ALL
        SELECT l._key_no, l._seg, r._root_key_no, r._root_seg
        FROM links l
        JOIN lineage r ON r._key_no = l._parent_key_no AND r._seg = l._parent_seg
    ),
    runs AS (  -- runs of images that carry each column, along the lineage
        SELECT e.*, g._root_key_no AS _line_key, g._root_seg AS _line_seg,
            SUM(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('sku_code'::VARIANT, e._toast), FALSE) THEN 1 ELSE 0 END)
                OVER (PARTITION BY g._root_key_no, g._root_seg ORDER BY e._lsn, e._seq, e._sub
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _run_1,
            SUM(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('qty'::VARIANT, e._toast), FALSE) THEN 1 ELSE 0 END)
                OVER (PARTITION BY g._root_key_no, g._root_seg ORDER BY e._lsn, e._seq, e._sub
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _run_2,
            SUM(CASE WHEN e._kind = 'U' THEN 1 ELSE 0 END)
                OVER (PARTITION BY g._root_key_no, g._root_seg ORDER BY e._lsn, e._seq, e._sub
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _run_3,
            SUM(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('note'::VARIANT, e._toast), FALSE) THEN 1 ELSE 0 END)
                OVER (PARTITION BY g._root_key_no, g._root_seg ORDER BY e._lsn, e._seq, e._sub
                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _run_4
        FROM numbered e
        JOIN lineage g ON g._key_no = e._key_no AND g._seg = e._seg
    ),
    roots AS (  -- the key of each key number
        SELECT DISTINCT n._key_no, n.ORDER_ID, n.LINE_NO FROM numbered n
    )
    SELECT e.ORDER_ID, e.LINE_NO,
        CASE WHEN e._run_1 = 0 THEN cur.SKU_CODE
             ELSE FIRST_VALUE(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('sku_code'::VARIANT, e._toast), FALSE) THEN e._img:"sku_code"::VARCHAR END)
                  OVER (PARTITION BY e._line_key, e._line_seg, e._run_1 ORDER BY e._lsn, e._seq, e._sub) END,
        CASE WHEN e._run_2 = 0 THEN cur.QTY
             ELSE FIRST_VALUE(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('qty'::VARIANT, e._toast), FALSE) THEN e._img:"qty"::VARCHAR END)
                  OVER (PARTITION BY e._line_key, e._line_seg, e._run_2 ORDER BY e._lsn, e._seq, e._sub) END,
        CASE WHEN e._run_3 = 0 THEN cur.SHIPPED_ON
             ELSE FIRST_VALUE(CASE WHEN e._kind = 'U' THEN TO_DATE(CASE e._img:"shipped_on"::VARCHAR WHEN 'infinity' THEN '9999-12-31' WHEN '-infinity' THEN '0001-01-01' ELSE e._img:"shipped_on"::VARCHAR END, 'AUTO') END)
                  OVER (PARTITION BY e._line_key, e._line_seg, e._run_3 ORDER BY e._lsn, e._seq, e._sub) END,
        CASE WHEN e._run_4 = 0 THEN cur.NOTE
             ELSE FIRST_VALUE(CASE WHEN e._kind = 'U' AND NOT COALESCE(ARRAY_CONTAINS('note'::VARIANT, e._toast), FALSE) THEN e._img:"note"::VARCHAR END)
                  OVER (PARTITION BY e._line_key, e._line_seg, e._run_4 ORDER BY e._lsn, e._seq, e._sub) END,
        e._kind, e._lsn, e._seq, e._sub, e._ts, e._kc
    FROM runs e
    LEFT JOIN roots r ON r._key_no = e._line_key AND e._line_seg = 0
    LEFT JOIN SNOWCDC.ANALYTICS.SALES_ORDER_LINES cur ON cur.ORDER_ID = r.ORDER_ID AND cur.LINE_NO = r.LINE_NO;

    -- 3. history: close open versions, add new ones, fold split transactions
    UPDATE SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY h
    SET valid_to = f._ev_ts, is_current = FALSE, is_deleted = (f._ev_kind = 'D'),
        _cdc_end_lsn = f._ev_lsn, _cdc_end_seq = f._ev_seq
    FROM (
        SELECT * FROM (
            SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.ORDER_ID, e.LINE_NO
                                           ORDER BY e._ev_lsn, e._ev_seq DESC, e._ev_sub DESC) AS _rn
            FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS e
        ) x
        WHERE x._rn = 1
    ) f
    WHERE h.ORDER_ID = f.ORDER_ID AND h.LINE_NO = f.LINE_NO AND h.valid_to IS NULL
      AND (f._ev_lsn > h._cdc_lsn OR (f._ev_lsn = h._cdc_lsn AND f._ev_seq > h._cdc_seq));

    INSERT INTO SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY (ORDER_ID, LINE_NO, SKU_CODE, QTY, SHIPPED_ON, NOTE, valid_from, valid_to, is_current, is_deleted, _cdc_lsn, _cdc_seq, _cdc_end_lsn, _cdc_end_seq)
    SELECT ORDER_ID, LINE_NO, SKU_CODE, QTY, SHIPPED_ON, NOTE, _ev_ts, _next_ts, _next_ts IS NULL, COALESCE(_next_kind = 'D', FALSE),
           _ev_lsn, _ev_seq, _next_lsn, _next_seq
    FROM (
        SELECT l.*,
               LEAD(l._ev_ts) OVER (PARTITION BY l.ORDER_ID, l.LINE_NO ORDER BY l._ev_lsn) AS _next_ts,
               LEAD(l._ev_kind) OVER (PARTITION BY l.ORDER_ID, l.LINE_NO ORDER BY l._ev_lsn) AS _next_kind,
               LEAD(l._ev_lsn) OVER (PARTITION BY l.ORDER_ID, l.LINE_NO ORDER BY l._ev_lsn) AS _next_lsn,
               LEAD(l._ev_seq) OVER (PARTITION BY l.ORDER_ID, l.LINE_NO ORDER BY l._ev_lsn) AS _next_seq
        FROM (  -- the last image of each key in each transaction
            SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.ORDER_ID, e.LINE_NO, e._ev_lsn
                                           ORDER BY e._ev_seq DESC, e._ev_sub DESC) AS _rn
            FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS e
        ) l
        WHERE l._rn = 1
    ) v
    WHERE v._ev_kind = 'U';

    UPDATE SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY p
    SET is_deleted = z.is_deleted, _cdc_end_lsn = z._cdc_end_lsn, _cdc_end_seq = z._cdc_end_seq
    FROM (
        SELECT h.* FROM SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY h
        JOIN (SELECT DISTINCT ORDER_ID, LINE_NO FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS) k ON k.ORDER_ID = h.ORDER_ID AND k.LINE_NO = h.LINE_NO
        WHERE h._cdc_end_lsn = h._cdc_lsn
    ) z
    WHERE p.ORDER_ID = z.ORDER_ID AND p.LINE_NO = z.LINE_NO AND p._cdc_end_lsn = z._cdc_lsn AND p._cdc_end_seq = z._cdc_seq;
    DELETE FROM SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY h
    USING (SELECT DISTINCT ORDER_ID, LINE_NO FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS) k
    WHERE h.ORDER_ID = k.ORDER_ID AND h.LINE_NO = k.LINE_NO AND h._cdc_end_lsn = h._cdc_lsn;
    UPDATE SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY p
    SET is_deleted = FALSE, _cdc_end_lsn = v._cdc_lsn, _cdc_end_seq = v._cdc_seq
    FROM (
        SELECT h.* FROM SNOWCDC.ANALYTICS.SALES_ORDER_LINES_HISTORY h
        JOIN (SELECT DISTINCT ORDER_ID, LINE_NO FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS) k ON k.ORDER_ID = h.ORDER_ID AND k.LINE_NO = h.LINE_NO
    ) v
    WHERE p.ORDER_ID = v.ORDER_ID AND p.LINE_NO = v.LINE_NO AND p._cdc_end_lsn = v._cdc_lsn AND p._cdc_lsn < v._cdc_lsn
      AND (p.is_deleted OR p._cdc_end_seq <> v._cdc_seq);

    -- 4. current state: the last image of each key; each key's last applied record
    MERGE INTO SNOWCDC.ANALYTICS.SALES_ORDER_LINES t
    USING (
        SELECT * FROM (
            SELECT e.*,
                   ROW_NUMBER() OVER (PARTITION BY e.ORDER_ID, e.LINE_NO ORDER BY e._ev_lsn DESC, e._ev_seq DESC, e._ev_sub DESC) AS _rn,
                   MAX(CASE WHEN e._ev_kind = 'U' THEN 1 ELSE 0 END) OVER (PARTITION BY e.ORDER_ID, e.LINE_NO) AS _had_upsert
            FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS e
        ) x
        WHERE x._rn = 1
    ) s
    ON t.ORDER_ID = s.ORDER_ID AND t.LINE_NO = s.LINE_NO
    WHEN MATCHED AND s._ev_kind = 'D' AND (s._ev_lsn > t._cdc_lsn OR (s._ev_lsn = t._cdc_lsn AND s._ev_seq > t._cdc_seq)) THEN DELETE
    WHEN MATCHED AND s._ev_kind = 'U' AND (s._ev_lsn > t._cdc_lsn OR (s._ev_lsn = t._cdc_lsn AND s._ev_seq > t._cdc_seq)) THEN UPDATE SET
        SKU_CODE = s.SKU_CODE,
        QTY = s.QTY,
        SHIPPED_ON = s.SHIPPED_ON,
        NOTE = s.NOTE,
        _cdc_lsn = s._ev_lsn,
        _cdc_seq = s._ev_seq,
        _cdc_commit_ts = s._ev_ts
    WHEN NOT MATCHED AND s._ev_kind = 'U' THEN INSERT (ORDER_ID, LINE_NO, SKU_CODE, QTY, SHIPPED_ON, NOTE, _cdc_lsn, _cdc_seq, _cdc_commit_ts)
        VALUES (s.ORDER_ID, s.LINE_NO, s.SKU_CODE, s.QTY, s.SHIPPED_ON, s.NOTE, s._ev_lsn, s._ev_seq, s._ev_ts);

    MERGE INTO SNOWCDC.STAGING.SALES_ORDER_LINES__APPLIED t
    USING (
        SELECT * FROM (
            SELECT e.ORDER_ID, e.LINE_NO, e._ev_lsn, e._ev_seq,
                   ROW_NUMBER() OVER (PARTITION BY e.ORDER_ID, e.LINE_NO ORDER BY e._ev_lsn DESC, e._ev_seq DESC) AS _rn
            FROM SNOWCDC.STAGING.SALES_ORDER_LINES__EVENTS e
        ) x
        WHERE x._rn = 1
    ) s
    ON t.ORDER_ID = s.ORDER_ID AND t.LINE_NO = s.LINE_NO
    WHEN MATCHED AND (s._ev_lsn > t._cdc_lsn OR (s._ev_lsn = t._cdc_lsn AND s._ev_seq > t._cdc_seq)) THEN UPDATE SET
        _cdc_lsn = s._ev_lsn, _cdc_seq = s._ev_seq
    WHEN NOT MATCHED THEN INSERT (ORDER_ID, LINE_NO, _cdc_lsn, _cdc_seq)
        VALUES (s.ORDER_ID, s.LINE_NO, s._ev_lsn, s._ev_seq);

    -- 5. bookkeeping: applied truncates, merged records leave the pending table
    INSERT INTO SNOWCDC.STAGING.CDC_TRUNCATIONS (source_schema, source_table, lsn, seq, commit_ts)
    SELECT b.source_schema, b.source_table, b.lsn, b.seq, b.commit_ts
    FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH b
    WHERE b.op = 't' AND NOT EXISTS (
        SELECT 1 FROM SNOWCDC.STAGING.CDC_TRUNCATIONS l
        WHERE l.source_schema = b.source_schema AND l.source_table = b.source_table
          AND l.lsn = b.lsn AND l.seq = b.seq);

    INSERT INTO SNOWCDC.STAGING.CDC_MERGE_LOG (source_schema, source_table, merged_at, records, last_lsn, last_commit_ts)
    SELECT 'sales', 'order_lines', CURRENT_TIMESTAMP, COUNT(*), MAX(lsn), MAX(commit_ts)
    FROM SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH
    HAVING COUNT(*) > 0;

    DELETE FROM SNOWCDC.STAGING.CDC_PENDING p
    USING SNOWCDC.STAGING.SALES_ORDER_LINES__BATCH b
    WHERE p.source_schema = b.source_schema AND p.source_table = b.source_table
      AND p.lsn = b.lsn AND p.seq = b.seq;

    COMMIT;
    RETURN 'merged pending records of sales.order_lines';
EXCEPTION
    WHEN OTHER THEN
        ROLLBACK;
        RAISE;
END;
$$;
