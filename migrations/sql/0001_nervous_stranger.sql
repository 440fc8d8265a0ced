CREATE TABLE "gateway_leases" (
	"id" text PRIMARY KEY NOT NULL,
	"routing" text NOT NULL,
	"upstream" text,
	"started_at" timestamp with time zone NOT NULL,
	"renewed_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ui_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"token_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "devices_id_lower_idx" ON "devices" USING btree (lower("id"));