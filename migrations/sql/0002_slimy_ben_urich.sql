CREATE TABLE "attestation_nonces" (
	"nonce_hash" text PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"cert_serial" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consumed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "attestation_policies" (
	"hardware_model" text PRIMARY KEY NOT NULL,
	"min_svn" integer,
	"required" text DEFAULT 'auto' NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"updated_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "attestation_results" (
	"id" text PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"cert_serial" text NOT NULL,
	"hardware_model" text NOT NULL,
	"status" text NOT NULL,
	"trust_vector" text NOT NULL,
	"reasons" text NOT NULL,
	"firmware_sha256" text,
	"firmware_version" text,
	"firmware_svn" integer,
	"agent_sha256" text,
	"wrapping_key_thumbprint" text,
	"issued_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"token" text,
	"reappraisal" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "content_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"key_wrapped" "bytea" NOT NULL,
	"label" text,
	"hardware_models" text[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "device_attestation" (
	"device_id" text PRIMARY KEY NOT NULL,
	"result_id" text NOT NULL,
	"hardware_model" text NOT NULL,
	"status" text NOT NULL,
	"firmware_sha256" text,
	"firmware_svn" integer,
	"issued_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "firmware_denied" (
	"sha256" text PRIMARY KEY NOT NULL,
	"reason" text,
	"denied_at" timestamp with time zone NOT NULL,
	"denied_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "firmware_references" (
	"id" text PRIMARY KEY NOT NULL,
	"component" text DEFAULT 'firmware' NOT NULL,
	"hardware_model" text NOT NULL,
	"version" text NOT NULL,
	"svn" integer NOT NULL,
	"sha256" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL,
	"retired_at" timestamp with time zone,
	"retired_by" text
);
--> statement-breakpoint
CREATE INDEX "attestation_nonces_expiry_idx" ON "attestation_nonces" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "attestation_results_device_idx" ON "attestation_results" USING btree ("device_id","issued_at");--> statement-breakpoint
CREATE INDEX "device_attestation_firmware_idx" ON "device_attestation" USING btree ("firmware_sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "firmware_references_digest_idx" ON "firmware_references" USING btree ("hardware_model","component","sha256");--> statement-breakpoint
CREATE INDEX "firmware_references_model_idx" ON "firmware_references" USING btree ("hardware_model");