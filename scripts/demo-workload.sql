-- A small mixed workload for the demo: inserts, updates (one of a TOASTed row), a key
-- change, deletes and a truncate, over a few types.
CREATE TABLE IF NOT EXISTS public.customers (
    id          bigint PRIMARY KEY,
    email       text NOT NULL,
    balance     numeric(12,2),
    tags        text[],
    profile     jsonb,
    bio         text,
    created_at  timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.orders (
    id          bigint PRIMARY KEY,
    customer_id bigint REFERENCES public.customers(id),
    amount      numeric,
    placed_on   date,
    status      text
);

BEGIN;
INSERT INTO public.customers (id, email, balance, tags, profile, bio)
SELECT g, 'user' || g || '@example.com', g * 10.5, ARRAY['t' || g % 3, 'demo'],
       jsonb_build_object('city', CASE WHEN g % 2 = 0 THEN 'Zürich' ELSE 'Lyon' END),
       repeat('long biography ', 1000 + g)
FROM generate_series(1, 200) AS g;
INSERT INTO public.orders
SELECT g, 1 + g % 200, (g * 3.75)::numeric, date '2026-01-01' + g, 'placed'
FROM generate_series(1, 1000) AS g;
COMMIT;

UPDATE public.customers SET balance = balance + 1 WHERE id % 10 = 0;   -- bio stays TOASTed
UPDATE public.orders SET status = 'shipped' WHERE id % 3 = 0;
UPDATE public.orders SET id = id + 100000 WHERE id = 7;               -- key change
DELETE FROM public.orders WHERE id % 50 = 0;
SELECT pg_logical_emit_message(true, 'demo', 'workload done');
