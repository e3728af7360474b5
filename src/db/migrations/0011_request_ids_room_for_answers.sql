-- A keyed write's row is inserted by its claim and given its answer in the same transaction
-- (src/sessions/repository/request-keys.ts): half of each page is kept free, so that update stays on
-- the row's own page (a HOT update: no new entry in either index).
ALTER TABLE {{table}}_reqids SET (fillfactor = 50);
