export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[];

export type Database = {
  "public": {
    Tables: {
      "cleanup_runs": {
        Row: {
          "deleted_request_keys": number;
          "deleted_stripe_keys": number;
          "expired_orders": number;
          "id": number;
          "ran_at": string;
        };
        ComputedFields: never;
        Insert: {
          "deleted_request_keys": number;
          "deleted_stripe_keys": number;
          "expired_orders": number;
          "id"?: never;
          "ran_at"?: string;
        };
        Update: {
          "deleted_request_keys"?: number;
          "deleted_stripe_keys"?: number;
          "expired_orders"?: number;
          "id"?: never;
          "ran_at"?: string;
        };
        Relationships: [];
      };
      "idempotency_keys": {
        Row: {
          "created_at": string;
          "expires_at": string;
          "key": string;
          "lease_token": string | null;
          "locked_until": string | null;
          "request_fingerprint": string;
          "response_body": Json | null;
          "response_status": number | null;
          "scope": string;
          "status": string;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "created_at"?: string;
          "expires_at": string;
          "key": string;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "request_fingerprint": string;
          "response_body"?: Json | null;
          "response_status"?: number | null;
          "scope": string;
          "status": string;
          "updated_at"?: string;
        };
        Update: {
          "created_at"?: string;
          "expires_at"?: string;
          "key"?: string;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "request_fingerprint"?: string;
          "response_body"?: Json | null;
          "response_status"?: number | null;
          "scope"?: string;
          "status"?: string;
          "updated_at"?: string;
        };
        Relationships: [];
      };
      "order_items": {
        Row: {
          "name": string;
          "order_id": string;
          "product_id": string;
          "quantity": number;
          "unit_amount": number;
        };
        ComputedFields: never;
        Insert: {
          "name": string;
          "order_id": string;
          "product_id": string;
          "quantity": number;
          "unit_amount": number;
        };
        Update: {
          "name"?: string;
          "order_id"?: string;
          "product_id"?: string;
          "quantity"?: number;
          "unit_amount"?: number;
        };
        Relationships: [
          {
            foreignKeyName: "order_items_order_id_fkey";
            columns: ["order_id"];
            isOneToOne: false;
            referencedRelation: "orders";
            referencedColumns: ["id"];
          },
          {
            foreignKeyName: "order_items_product_id_fkey";
            columns: ["product_id"];
            isOneToOne: false;
            referencedRelation: "products";
            referencedColumns: ["id"];
          },
        ];
      };
      "order_status_transitions": {
        Row: {
          "from_status": string;
          "releases_stock": boolean;
          "to_status": string;
        };
        ComputedFields: never;
        Insert: {
          "from_status": string;
          "releases_stock"?: boolean;
          "to_status": string;
        };
        Update: {
          "from_status"?: string;
          "releases_stock"?: boolean;
          "to_status"?: string;
        };
        Relationships: [
          {
            foreignKeyName: "order_status_transitions_from_known";
            columns: ["from_status"];
            isOneToOne: false;
            referencedRelation: "order_statuses";
            referencedColumns: ["status"];
          },
          {
            foreignKeyName: "order_status_transitions_to_known";
            columns: ["to_status"];
            isOneToOne: false;
            referencedRelation: "order_statuses";
            referencedColumns: ["status"];
          },
        ];
      };
      "order_statuses": {
        Row: {
          "status": string;
        };
        ComputedFields: never;
        Insert: {
          "status": string;
        };
        Update: {
          "status"?: string;
        };
        Relationships: [];
      };
      "orders": {
        Row: {
          "amount_subtotal": number;
          "amount_total": number;
          "cancel_url": string;
          "cancelled_at": string | null;
          "checkout_expires_at": string;
          "checkout_session_closed_at": string | null;
          "checkout_session_id": string | null;
          "checkout_url": string | null;
          "client_ip": unknown;
          "created_at": string;
          "currency": string;
          "dispute_amount": number | null;
          "dispute_closed_at": string | null;
          "dispute_id": string | null;
          "dispute_outcome": string | null;
          "dispute_reason": string | null;
          "dispute_status": string | null;
          "disputed_at": string | null;
          "email": string | null;
          "id": string;
          "idempotency_key": string;
          "max_charge_amount_refunded": number;
          "needs_review": boolean;
          "paid_at": string | null;
          "payment_intent_id": string | null;
          "promotion_code": string | null;
          "request_fingerprint": string;
          "review_reason": string | null;
          "scope": string;
          "status": string;
          "status_checked_at": string | null;
          "stock_released_at": string | null;
          "stripe_customer_id": string | null;
          "success_url": string;
          "updated_at": string;
          "user_id": string | null;
        };
        ComputedFields: never;
        Insert: {
          "amount_subtotal": number;
          "amount_total": number;
          "cancel_url": string;
          "cancelled_at"?: string | null;
          "checkout_expires_at": string;
          "checkout_session_closed_at"?: string | null;
          "checkout_session_id"?: string | null;
          "checkout_url"?: string | null;
          "client_ip"?: unknown;
          "created_at"?: string;
          "currency": string;
          "dispute_amount"?: number | null;
          "dispute_closed_at"?: string | null;
          "dispute_id"?: string | null;
          "dispute_outcome"?: string | null;
          "dispute_reason"?: string | null;
          "dispute_status"?: string | null;
          "disputed_at"?: string | null;
          "email"?: string | null;
          "id"?: string;
          "idempotency_key": string;
          "max_charge_amount_refunded"?: number;
          "needs_review"?: boolean;
          "paid_at"?: string | null;
          "payment_intent_id"?: string | null;
          "promotion_code"?: string | null;
          "request_fingerprint": string;
          "review_reason"?: string | null;
          "scope": string;
          "status"?: string;
          "status_checked_at"?: string | null;
          "stock_released_at"?: string | null;
          "stripe_customer_id"?: string | null;
          "success_url": string;
          "updated_at"?: string;
          "user_id"?: string | null;
        };
        Update: {
          "amount_subtotal"?: number;
          "amount_total"?: number;
          "cancel_url"?: string;
          "cancelled_at"?: string | null;
          "checkout_expires_at"?: string;
          "checkout_session_closed_at"?: string | null;
          "checkout_session_id"?: string | null;
          "checkout_url"?: string | null;
          "client_ip"?: unknown;
          "created_at"?: string;
          "currency"?: string;
          "dispute_amount"?: number | null;
          "dispute_closed_at"?: string | null;
          "dispute_id"?: string | null;
          "dispute_outcome"?: string | null;
          "dispute_reason"?: string | null;
          "dispute_status"?: string | null;
          "disputed_at"?: string | null;
          "email"?: string | null;
          "id"?: string;
          "idempotency_key"?: string;
          "max_charge_amount_refunded"?: number;
          "needs_review"?: boolean;
          "paid_at"?: string | null;
          "payment_intent_id"?: string | null;
          "promotion_code"?: string | null;
          "request_fingerprint"?: string;
          "review_reason"?: string | null;
          "scope"?: string;
          "status"?: string;
          "status_checked_at"?: string | null;
          "stock_released_at"?: string | null;
          "stripe_customer_id"?: string | null;
          "success_url"?: string;
          "updated_at"?: string;
          "user_id"?: string | null;
        };
        Relationships: [
          {
            foreignKeyName: "orders_status_known";
            columns: ["status"];
            isOneToOne: false;
            referencedRelation: "order_statuses";
            referencedColumns: ["status"];
          },
        ];
      };
      "outbox": {
        Row: {
          "attempts": number;
          "created_at": string;
          "dead_at": string | null;
          "dedupe_key": string;
          "id": number;
          "last_attempt_at": string | null;
          "last_error": string | null;
          "lease_token": string | null;
          "locked_until": string | null;
          "message_id": string;
          "next_attempt_at": string;
          "order_id": string | null;
          "payload": NonNullable<Json>;
          "processed_at": string | null;
          "source_event_id": string | null;
          "status": string;
          "topic": string;
        };
        ComputedFields: never;
        Insert: {
          "attempts"?: number;
          "created_at"?: string;
          "dead_at"?: string | null;
          "dedupe_key": string;
          "id"?: never;
          "last_attempt_at"?: string | null;
          "last_error"?: string | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "message_id"?: string;
          "next_attempt_at"?: string;
          "order_id"?: string | null;
          "payload"?: NonNullable<Json>;
          "processed_at"?: string | null;
          "source_event_id"?: string | null;
          "status"?: string;
          "topic": string;
        };
        Update: {
          "attempts"?: number;
          "created_at"?: string;
          "dead_at"?: string | null;
          "dedupe_key"?: string;
          "id"?: never;
          "last_attempt_at"?: string | null;
          "last_error"?: string | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "message_id"?: string;
          "next_attempt_at"?: string;
          "order_id"?: string | null;
          "payload"?: NonNullable<Json>;
          "processed_at"?: string | null;
          "source_event_id"?: string | null;
          "status"?: string;
          "topic"?: string;
        };
        Relationships: [
          {
            foreignKeyName: "outbox_order_id_fkey";
            columns: ["order_id"];
            isOneToOne: false;
            referencedRelation: "orders";
            referencedColumns: ["id"];
          },
        ];
      };
      "products": {
        Row: {
          "active": boolean;
          "created_at": string;
          "currency": string;
          "description": string | null;
          "id": string;
          "image_url": string | null;
          "name": string;
          "stock": number | null;
          "unit_amount": number;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "active"?: boolean;
          "created_at"?: string;
          "currency": string;
          "description"?: string | null;
          "id"?: string;
          "image_url"?: string | null;
          "name": string;
          "stock"?: number | null;
          "unit_amount": number;
          "updated_at"?: string;
        };
        Update: {
          "active"?: boolean;
          "created_at"?: string;
          "currency"?: string;
          "description"?: string | null;
          "id"?: string;
          "image_url"?: string | null;
          "name"?: string;
          "stock"?: number | null;
          "unit_amount"?: number;
          "updated_at"?: string;
        };
        Relationships: [];
      };
      "refunds": {
        Row: {
          "amount": number;
          "created_at": string;
          "created_by_key": string | null;
          "created_by_scope": string | null;
          "currency": string;
          "failed_at": string | null;
          "failure_reason": string | null;
          "id": string;
          "last_error": Json | null;
          "order_id": string;
          "reason": string | null;
          "request_fingerprint": string | null;
          "status": string;
          "stripe_operation_id": string | null;
          "stripe_refund_id": string | null;
          "succeeded_at": string | null;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "amount": number;
          "created_at"?: string;
          "created_by_key"?: string | null;
          "created_by_scope"?: string | null;
          "currency": string;
          "failed_at"?: string | null;
          "failure_reason"?: string | null;
          "id"?: string;
          "last_error"?: Json | null;
          "order_id": string;
          "reason"?: string | null;
          "request_fingerprint"?: string | null;
          "status": string;
          "stripe_operation_id"?: string | null;
          "stripe_refund_id"?: string | null;
          "succeeded_at"?: string | null;
          "updated_at"?: string;
        };
        Update: {
          "amount"?: number;
          "created_at"?: string;
          "created_by_key"?: string | null;
          "created_by_scope"?: string | null;
          "currency"?: string;
          "failed_at"?: string | null;
          "failure_reason"?: string | null;
          "id"?: string;
          "last_error"?: Json | null;
          "order_id"?: string;
          "reason"?: string | null;
          "request_fingerprint"?: string | null;
          "status"?: string;
          "stripe_operation_id"?: string | null;
          "stripe_refund_id"?: string | null;
          "succeeded_at"?: string | null;
          "updated_at"?: string;
        };
        Relationships: [
          {
            foreignKeyName: "refunds_order_id_fkey";
            columns: ["order_id"];
            isOneToOne: false;
            referencedRelation: "orders";
            referencedColumns: ["id"];
          },
        ];
      };
      "stripe_customers": {
        Row: {
          "created_at": string;
          "stripe_customer_id": string;
          "user_id": string;
        };
        ComputedFields: never;
        Insert: {
          "created_at"?: string;
          "stripe_customer_id": string;
          "user_id": string;
        };
        Update: {
          "created_at"?: string;
          "stripe_customer_id"?: string;
          "user_id"?: string;
        };
        Relationships: [];
      };
      "stripe_idempotency_keys": {
        Row: {
          "attempts": number;
          "created_at": string;
          "expires_at": string;
          "id": number;
          "last_error": Json | null;
          "lease_token": string | null;
          "locked_until": string | null;
          "metadata": NonNullable<Json>;
          "operation_id": string;
          "operation_type": string;
          "request_fingerprint": string;
          "status": string;
          "stripe_idempotency_key": string;
          "stripe_resource_id": string | null;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "attempts"?: number;
          "created_at"?: string;
          "expires_at"?: string;
          "id"?: never;
          "last_error"?: Json | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "metadata"?: NonNullable<Json>;
          "operation_id": string;
          "operation_type": string;
          "request_fingerprint": string;
          "status": string;
          "stripe_idempotency_key": string;
          "stripe_resource_id"?: string | null;
          "updated_at"?: string;
        };
        Update: {
          "attempts"?: number;
          "created_at"?: string;
          "expires_at"?: string;
          "id"?: never;
          "last_error"?: Json | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "metadata"?: NonNullable<Json>;
          "operation_id"?: string;
          "operation_type"?: string;
          "request_fingerprint"?: string;
          "status"?: string;
          "stripe_idempotency_key"?: string;
          "stripe_resource_id"?: string | null;
          "updated_at"?: string;
        };
        Relationships: [];
      };
      "stripe_reconcile_state": {
        Row: {
          "cursor_created": string | null;
          "cursor_event_id": string | null;
          "id": boolean;
          "last_run_at": string | null;
          "last_summary": Json | null;
          "scan_event_id": string | null;
          "scan_oldest_event_id": string | null;
          "scan_since": string | null;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "cursor_created"?: string | null;
          "cursor_event_id"?: string | null;
          "id"?: boolean;
          "last_run_at"?: string | null;
          "last_summary"?: Json | null;
          "scan_event_id"?: string | null;
          "scan_oldest_event_id"?: string | null;
          "scan_since"?: string | null;
          "updated_at"?: string;
        };
        Update: {
          "cursor_created"?: string | null;
          "cursor_event_id"?: string | null;
          "id"?: boolean;
          "last_run_at"?: string | null;
          "last_summary"?: Json | null;
          "scan_event_id"?: string | null;
          "scan_oldest_event_id"?: string | null;
          "scan_since"?: string | null;
          "updated_at"?: string;
        };
        Relationships: [];
      };
      "stripe_webhook_events": {
        Row: {
          "api_version": string | null;
          "attempts": number;
          "event_created": string;
          "id": number;
          "last_error": string | null;
          "livemode": boolean;
          "order_id": string | null;
          "payload": NonNullable<Json>;
          "processed_at": string | null;
          "received_at": string;
          "result": string | null;
          "status": string;
          "stripe_event_id": string;
          "type": string;
          "updated_at": string;
        };
        ComputedFields: never;
        Insert: {
          "api_version"?: string | null;
          "attempts"?: number;
          "event_created": string;
          "id"?: never;
          "last_error"?: string | null;
          "livemode": boolean;
          "order_id"?: string | null;
          "payload": NonNullable<Json>;
          "processed_at"?: string | null;
          "received_at"?: string;
          "result"?: string | null;
          "status": string;
          "stripe_event_id": string;
          "type": string;
          "updated_at"?: string;
        };
        Update: {
          "api_version"?: string | null;
          "attempts"?: number;
          "event_created"?: string;
          "id"?: never;
          "last_error"?: string | null;
          "livemode"?: boolean;
          "order_id"?: string | null;
          "payload"?: NonNullable<Json>;
          "processed_at"?: string | null;
          "received_at"?: string;
          "result"?: string | null;
          "status"?: string;
          "stripe_event_id"?: string;
          "type"?: string;
          "updated_at"?: string;
        };
        Relationships: [
          {
            foreignKeyName: "stripe_webhook_events_order_id_fkey";
            columns: ["order_id"];
            isOneToOne: false;
            referencedRelation: "orders";
            referencedColumns: ["id"];
          },
        ];
      };
    };
    Views: {
      [_ in never]: never;
    };
    Functions: {
      "advance_reconcile_cursor": {
        Args: { "p_created": number; "p_event_id": string };
        Returns: {
          "cursor_created": string | null;
          "cursor_event_id": string | null;
          "id": boolean;
          "last_run_at": string | null;
          "last_summary": Json | null;
          "scan_event_id": string | null;
          "scan_oldest_event_id": string | null;
          "scan_since": string | null;
          "updated_at": string;
        };
        SetofOptions: {
          from: "*";
          to: "stripe_reconcile_state";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_charge_refunded": {
        Args: { "p_charge": Json; "p_event_id": string };
        Returns: Database["public"]["CompositeTypes"]["stripe_event_effect"];
        SetofOptions: {
          from: "*";
          to: "stripe_event_effect";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_checkout_session_event": {
        Args: { "p_event_id": string; "p_session": Json; "p_type": string };
        Returns: Database["public"]["CompositeTypes"]["stripe_event_effect"];
        SetofOptions: {
          from: "*";
          to: "stripe_event_effect";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_checkout_session_status": {
        Args: { "p_session": Json };
        Returns: Database["public"]["CompositeTypes"]["checkout_status"];
        SetofOptions: {
          from: "*";
          to: "checkout_status";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_payment_event": {
        Args: { "p_event_id": string; "p_object": Json; "p_type": string };
        Returns: Database["public"]["CompositeTypes"]["stripe_event_effect"];
        SetofOptions: {
          from: "*";
          to: "stripe_event_effect";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_payment_event_to_order": {
        Args: { "p_event_id": string; "p_object": Json; "p_order_id": string; "p_type": string };
        Returns: string;
      };
      "apply_stripe_event": {
        Args: { "p_event": Json; "p_livemode"?: boolean };
        Returns: Database["public"]["CompositeTypes"]["stripe_event_outcome"];
        SetofOptions: {
          from: "*";
          to: "stripe_event_outcome";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "apply_stripe_event_effect": {
        Args: { "p_event_id": string; "p_object": Json; "p_type": string };
        Returns: Database["public"]["CompositeTypes"]["stripe_event_effect"];
        SetofOptions: {
          from: "*";
          to: "stripe_event_effect";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "begin_checkout": {
        Args: {
          "p_cancel_url": string;
          "p_client_ip"?: string;
          "p_email"?: string;
          "p_idempotency_key": string;
          "p_items": Json;
          "p_lease_seconds"?: number;
          "p_max_pending_per_email"?: number;
          "p_max_pending_per_ip"?: number;
          "p_promotion_code"?: string;
          "p_request_fingerprint": string;
          "p_request_lease_token": string;
          "p_scope": string;
          "p_session_ttl_seconds"?: number;
          "p_stripe_customer_id"?: string;
          "p_success_url": string;
          "p_user_id"?: string;
        };
        Returns: Database["public"]["CompositeTypes"]["checkout_begin"];
        SetofOptions: {
          from: "*";
          to: "checkout_begin";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "begin_customer": {
        Args: {
          "p_email": string;
          "p_idempotency_key": string;
          "p_lease_seconds"?: number;
          "p_request_lease_token": string;
          "p_scope": string;
          "p_user_id": string;
        };
        Returns: Database["public"]["CompositeTypes"]["customer_begin"];
        SetofOptions: {
          from: "*";
          to: "customer_begin";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "begin_refund": {
        Args: {
          "p_amount"?: number;
          "p_idempotency_key": string;
          "p_lease_seconds"?: number;
          "p_order_id": string;
          "p_reason"?: string;
          "p_request_fingerprint": string;
          "p_request_lease_token": string;
          "p_scope": string;
        };
        Returns: Database["public"]["CompositeTypes"]["refund_begin"];
        SetofOptions: {
          from: "*";
          to: "refund_begin";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "cancel_checkout": {
        Args: {
          "p_expired_session_id"?: string;
          "p_idempotency_key": string;
          "p_order_id": string;
          "p_scope": string;
        };
        Returns: Database["public"]["CompositeTypes"]["checkout_cancel"];
        SetofOptions: {
          from: "*";
          to: "checkout_cancel";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "check_stripe_idempotency": {
        Args: {
          "p_lease_seconds"?: number;
          "p_metadata"?: Json;
          "p_operation_id": string;
          "p_operation_type": string;
          "p_request_fingerprint": string;
        };
        Returns: Database["public"]["CompositeTypes"]["stripe_operation_claim"];
        SetofOptions: {
          from: "*";
          to: "stripe_operation_claim";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "checkout_lines": {
        Args: { "p_items": Json };
        Returns: {
          "product_id": string;
          "quantity": number;
        }[];
      };
      "checkout_status_by_session": {
        Args: { "p_checkout_session_id": string; "p_throttle_seconds"?: number };
        Returns: Database["public"]["CompositeTypes"]["checkout_status"];
        SetofOptions: {
          from: "*";
          to: "checkout_status";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "checkout_status_of": {
        Args: { "p_order_id": string; "p_outcome": string };
        Returns: Database["public"]["CompositeTypes"]["checkout_status"];
        SetofOptions: {
          from: "*";
          to: "checkout_status";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "claim_and_begin_checkout": {
        Args: {
          "p_cancel_url": string;
          "p_client_ip"?: string;
          "p_email"?: string;
          "p_idempotency_key": string;
          "p_items": Json;
          "p_lease_seconds"?: number;
          "p_max_pending_per_email"?: number;
          "p_max_pending_per_ip"?: number;
          "p_promotion_code"?: string;
          "p_request_fingerprint": string;
          "p_scope": string;
          "p_session_ttl_seconds"?: number;
          "p_success_url": string;
          "p_ttl_seconds"?: number;
          "p_user_id"?: string;
        };
        Returns: Database["public"]["CompositeTypes"]["checkout_claim_begin"];
        SetofOptions: {
          from: "*";
          to: "checkout_claim_begin";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "claim_idempotency_key": {
        Args: {
          "p_key": string;
          "p_lease_seconds"?: number;
          "p_request_fingerprint": string;
          "p_scope": string;
          "p_ttl_seconds"?: number;
        };
        Returns: Database["public"]["CompositeTypes"]["idempotency_claim"];
        SetofOptions: {
          from: "*";
          to: "idempotency_claim";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "claim_outbox": {
        Args: {
          "p_due_before"?: string;
          "p_lease_seconds"?: number;
          "p_limit"?: number;
          "p_max_attempts"?: number;
        };
        Returns: {
          "attempts": number;
          "created_at": string;
          "dead_at": string | null;
          "dedupe_key": string;
          "id": number;
          "last_attempt_at": string | null;
          "last_error": string | null;
          "lease_token": string | null;
          "locked_until": string | null;
          "message_id": string;
          "next_attempt_at": string;
          "order_id": string | null;
          "payload": NonNullable<Json>;
          "processed_at": string | null;
          "source_event_id": string | null;
          "status": string;
          "topic": string;
        }[];
        SetofOptions: {
          from: "*";
          to: "outbox";
          isOneToOne: false;
          isSetofReturn: true;
        };
      };
      "cleanup_expired_idempotency_keys": {
        Args: { "p_batch_size"?: number };
        Returns: {
          "deleted_request_keys": number;
          "deleted_stripe_keys": number;
          "expired_orders": number;
        }[];
      };
      "complete_idempotency_key": {
        Args: {
          "p_key": string;
          "p_lease_token": string;
          "p_response_body": Json;
          "p_response_status": number;
          "p_scope": string;
        };
        Returns: string;
      };
      "complete_outbox": { Args: { "p_id": number; "p_lease_token": string }; Returns: string };
      "delivery_ops_report": { Args: Record<PropertyKey, never>; Returns: Json };
      "enqueue_outbox": {
        Args: {
          "p_dedupe_key": string;
          "p_order_id": string;
          "p_payload": Json;
          "p_source_event_id": string;
          "p_topic": string;
        };
        Returns: boolean;
      };
      "enqueue_partial_refund": {
        Args: { "p_order_id": string; "p_source": string };
        Returns: undefined;
      };
      "extend_idempotency_lease": {
        Args: {
          "p_key": string;
          "p_lease_seconds": number;
          "p_lease_token": string;
          "p_scope": string;
        };
        Returns: boolean;
      };
      "fail_checkout": {
        Args: {
          "p_error": Json;
          "p_idempotency_key": string;
          "p_order_id": string;
          "p_request_lease_token": string;
          "p_response_body": Json;
          "p_response_status": number;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "fail_outbox": {
        Args: {
          "p_base_seconds"?: number;
          "p_error": string;
          "p_id": number;
          "p_lease_token": string;
          "p_max_attempts"?: number;
        };
        Returns: Database["public"]["CompositeTypes"]["outbox_failure"];
        SetofOptions: {
          from: "*";
          to: "outbox_failure";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "fail_refund": {
        Args: {
          "p_error": Json;
          "p_idempotency_key": string;
          "p_refund_id": string;
          "p_request_lease_token": string;
          "p_response_body": Json;
          "p_response_status": number;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "fail_stripe_idempotency": {
        Args: {
          "p_error": Json;
          "p_lease_token": string;
          "p_operation_id": string;
          "p_operation_type": string;
        };
        Returns: string;
      };
      "finish_reconcile_run": { Args: { "p_summary": Json }; Returns: undefined };
      "flag_order_for_review": {
        Args: { "p_event_id": string; "p_order_id": string; "p_reason": string };
        Returns: undefined;
      };
      "lease_retry_after": { Args: { "p_locked_until": string }; Returns: number };
      "list_active_products": {
        Args: Record<PropertyKey, never>;
        Returns: {
          "currency": string;
          "description": string;
          "id": string;
          "image_url": string;
          "name": string;
          "stock": number;
          "unit_amount": number;
        }[];
      };
      "mint_stripe_idempotency_key": {
        Args: { "p_operation_id": string; "p_operation_type": string };
        Returns: string;
      };
      "move_order": {
        Args: {
          "p_event_id": string;
          "p_order_id": string;
          "p_payment_intent"?: string;
          "p_to": string;
        };
        Returns: string;
      };
      "order_refundable_amount": { Args: { "p_order_id": string }; Returns: number };
      "order_refunded_amount": { Args: { "p_order_id": string }; Returns: number };
      "order_snapshot": { Args: { "p_order_id": string }; Returns: Json };
      "order_status_is_final": { Args: { "p_status": string }; Returns: boolean };
      "order_transition_allowed": { Args: { "p_from": string; "p_to": string }; Returns: boolean };
      "outbox_retry_delay": {
        Args: { "p_attempts": number; "p_base_seconds": number };
        Returns: string;
      };
      "payment_intent_of": { Args: { "p_object": Json }; Returns: string };
      "payments_ops_report": {
        Args: { "p_days"?: number; "p_limit"?: number; "p_unanswered_minutes"?: number };
        Returns: Json;
      };
      "pending_checkout_limit": {
        Args: {
          "p_client_ip": string;
          "p_email": string;
          "p_max_per_email": number;
          "p_max_per_ip": number;
          "p_scope": string;
          "p_user_id": string;
        };
        Returns: Json;
      };
      "reconcile_refund": {
        Args: { "p_order_id": string; "p_refund": Json; "p_source": string };
        Returns: string;
      };
      "reconcile_state": {
        Args: Record<PropertyKey, never>;
        Returns: {
          "cursor_created": string | null;
          "cursor_event_id": string | null;
          "id": boolean;
          "last_run_at": string | null;
          "last_summary": Json | null;
          "scan_event_id": string | null;
          "scan_oldest_event_id": string | null;
          "scan_since": string | null;
          "updated_at": string;
        };
        SetofOptions: {
          from: "*";
          to: "stripe_reconcile_state";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "record_checkout": {
        Args: {
          "p_amount_total": number;
          "p_checkout_session_id": string;
          "p_checkout_url": string;
          "p_expires_at": string;
          "p_idempotency_key": string;
          "p_order_id": string;
          "p_request_lease_token": string;
          "p_response_body": Json;
          "p_response_status": number;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "record_customer": {
        Args: {
          "p_stripe_customer_id": string;
          "p_stripe_lease_token": string;
          "p_user_id": string;
        };
        Returns: Database["public"]["CompositeTypes"]["customer_record"];
        SetofOptions: {
          from: "*";
          to: "customer_record";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "record_dispute": {
        Args: { "p_dispute": Json; "p_event_id": string; "p_order_id": string };
        Returns: string;
      };
      "record_refund": {
        Args: {
          "p_idempotency_key": string;
          "p_refund_id": string;
          "p_request_lease_token": string;
          "p_response_status"?: number;
          "p_scope": string;
          "p_stripe_lease_token": string;
          "p_stripe_refund": Json;
        };
        Returns: Database["public"]["CompositeTypes"]["refund_record"];
        SetofOptions: {
          from: "*";
          to: "refund_record";
          isOneToOne: true;
          isSetofReturn: false;
        };
      };
      "record_session_closed": {
        Args: { "p_checkout_session_id": string; "p_order_id": string };
        Returns: boolean;
      };
      "record_stripe_idempotency": {
        Args: {
          "p_lease_token": string;
          "p_metadata"?: Json;
          "p_operation_id": string;
          "p_operation_type": string;
          "p_stripe_resource_id": string;
        };
        Returns: string;
      };
      "refresh_checkout_expiry": {
        Args: {
          "p_expires_at": string;
          "p_idempotency_key": string;
          "p_lease_seconds"?: number;
          "p_order_id": string;
          "p_request_lease_token": string;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "refund_operation_id": { Args: { "p_refund_id": string }; Returns: string };
      "refund_paid_order": {
        Args: { "p_charge": Json; "p_event_id": string; "p_order_id": string };
        Returns: string;
      };
      "refund_response": { Args: { "p_refund_id": string }; Returns: Json };
      "refund_status_rank": { Args: { "p_status": string }; Returns: number };
      "release_checkout": {
        Args: {
          "p_error": Json;
          "p_idempotency_key": string;
          "p_order_id": string;
          "p_rekey"?: boolean;
          "p_request_lease_token": string;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "release_idempotency_key": {
        Args: { "p_key": string; "p_lease_token": string; "p_scope": string };
        Returns: string;
      };
      "release_order_stock": { Args: { "p_order_id": string }; Returns: boolean };
      "release_refund": {
        Args: {
          "p_error": Json;
          "p_idempotency_key": string;
          "p_refund_id": string;
          "p_rekey"?: boolean;
          "p_request_lease_token": string;
          "p_scope": string;
          "p_stripe_lease_token": string;
        };
        Returns: string;
      };
      "release_stripe_idempotency": {
        Args: {
          "p_error": Json;
          "p_lease_token": string;
          "p_operation_id": string;
          "p_operation_type": string;
          "p_rekey"?: boolean;
        };
        Returns: string;
      };
      "requeue_outbox": { Args: { "p_id": number }; Returns: string };
      "reset_reconcile_cursor": { Args: { "p_event_id": string }; Returns: undefined };
      "save_reconcile_scan": {
        Args: { "p_oldest_event_id": string; "p_scan_event_id": string; "p_since": string };
        Returns: undefined;
      };
      "session_created_under_order_key": {
        Args: { "p_order_id": string; "p_session": Json };
        Returns: boolean;
      };
      "sessions_to_expire": {
        Args: { "p_limit"?: number };
        Returns: {
          "checkout_session_id": string;
          "order_id": string;
        }[];
      };
      "settle_order_refunds": {
        Args: { "p_order_id": string; "p_source": string };
        Returns: string;
      };
      "stripe_event_refusal": { Args: { "p_event": Json; "p_livemode": boolean }; Returns: string };
      "webhook_ops_report": {
        Args: { "p_limit"?: number; "p_min_attempts"?: number };
        Returns: Json;
      };
    };
    Enums: {
      [_ in never]: never;
    };
    CompositeTypes: {
      "checkout_begin": {
        "outcome": string | null;
        "order_snapshot": Json | null;
        "stripe_idempotency_key": string | null;
        "stripe_lease_token": string | null;
        "details": Json | null;
        "retry_after_seconds": number | null;
      };
      "checkout_cancel": {
        "outcome": string | null;
        "order_status": string | null;
        "checkout_session_id": string | null;
      };
      "checkout_claim_begin": {
        "claim": Database["public"]["CompositeTypes"]["idempotency_claim"] | null;
        "begun": Database["public"]["CompositeTypes"]["checkout_begin"] | null;
      };
      "checkout_status": {
        "outcome": string | null;
        "order_id": string | null;
        "status": string | null;
        "amount_total": number | null;
        "currency": string | null;
        "checkout_session_id": string | null;
      };
      "customer_begin": {
        "outcome": string | null;
        "stripe_customer_id": string | null;
        "stripe_idempotency_key": string | null;
        "stripe_lease_token": string | null;
        "email": string | null;
        "retry_after_seconds": number | null;
        "operation_age_seconds": number | null;
        "rekeyed": boolean | null;
      };
      "customer_record": {
        "outcome": string | null;
        "stripe_customer_id": string | null;
      };
      "idempotency_claim": {
        "outcome": string | null;
        "lease_token": string | null;
        "response_status": number | null;
        "response_body": Json | null;
        "retry_after_seconds": number | null;
      };
      "outbox_failure": {
        "outcome": string | null;
        "attempts": number | null;
        "next_attempt_at": string | null;
      };
      "refund_begin": {
        "outcome": string | null;
        "refund": Json | null;
        "stripe_idempotency_key": string | null;
        "stripe_lease_token": string | null;
        "details": Json | null;
        "retry_after_seconds": number | null;
      };
      "refund_record": {
        "outcome": string | null;
        "response": Json | null;
      };
      "stripe_event_effect": {
        "status": string | null;
        "order_id": string | null;
        "detail": string | null;
      };
      "stripe_event_outcome": {
        "outcome": string | null;
        "event_status": string | null;
        "order_id": string | null;
        "order_status": string | null;
        "attempts": number | null;
        "detail": string | null;
      };
      "stripe_operation_claim": {
        "outcome": string | null;
        "stripe_idempotency_key": string | null;
        "lease_token": string | null;
        "attempts": number | null;
        "stripe_resource_id": string | null;
        "metadata": Json | null;
        "retry_after_seconds": number | null;
      };
    };
  };
};

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">;

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">];

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof (
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
    )
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals } ? (
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
  )[TableName] extends {
    Row: infer R;
  } ? R
  : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R;
    } ? R
    : never
  : never;

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends
    {
      Insert: infer I;
    } ? I
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I;
    } ? I
    : never
  : never;

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends
    {
      Update: infer U;
    } ? U
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U;
    } ? U
    : never
  : never;

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never,
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never;

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never,
> = PublicCompositeTypeNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][
    CompositeTypeName
  ]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never;

export const Constants = {
  "public": {
    Enums: {},
  },
} as const;
