CREATE TABLE "device_telemetry" (
	"device_id" text PRIMARY KEY NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"release_id" text,
	"model_version" text,
	"latest_inference" text,
	"latest_input_stats" text,
	"messages" bigint DEFAULT 0 NOT NULL,
	"anomalies" bigint DEFAULT 0 NOT NULL,
	"drift_score" double precision,
	"drifting" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "release_blobs" (
	"release_id" text NOT NULL,
	"idx" integer NOT NULL,
	"data" "bytea" NOT NULL,
	CONSTRAINT "release_blobs_release_id_idx_pk" PRIMARY KEY("release_id","idx")
);
--> statement-breakpoint
CREATE TABLE "release_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"public_key_der" "bytea" NOT NULL,
	"label" text,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_by" text
);
--> statement-breakpoint
CREATE TABLE "releases" (
	"id" text PRIMARY KEY NOT NULL,
	"model_id" text NOT NULL,
	"version" text NOT NULL,
	"release_counter" bigint NOT NULL,
	"hardware_models" text[] NOT NULL,
	"min_firmware_svn" integer,
	"content_key_id" text NOT NULL,
	"manifest" text NOT NULL,
	"release_kid" text NOT NULL,
	"payload_sha256" text NOT NULL,
	"plaintext_sha256" text NOT NULL,
	"plaintext_size" bigint NOT NULL,
	"package_size" bigint NOT NULL,
	"package_sha256" text NOT NULL,
	"blob_chunk_size" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "telemetry_messages" (
	"device_id" text NOT NULL,
	"message_id" text NOT NULL,
	"sent_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"release_id" text,
	"model_version" text,
	"inference" text,
	"input_stats" text,
	"anomaly" boolean DEFAULT false NOT NULL,
	CONSTRAINT "telemetry_messages_device_id_message_id_pk" PRIMARY KEY("device_id","message_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "releases_model_counter_idx" ON "releases" USING btree ("model_id","release_counter");--> statement-breakpoint
CREATE INDEX "releases_created_idx" ON "releases" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "telemetry_received_idx" ON "telemetry_messages" USING btree ("received_at");