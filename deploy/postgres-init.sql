-- Run once by the postgres image on an empty data volume (compose.yaml): the app database
-- (knt_app, POSTGRES_DB) is made by the image; the order backend and Rasa's tracker store
-- get their own, so their tables and migrations never meet.
CREATE DATABASE knt_orders OWNER knt;
CREATE DATABASE knt_rasa OWNER knt;
