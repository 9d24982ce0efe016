export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[];

export type Database = {
  "public": {
    Tables: {
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
        Relationships: [];
      };
      "orders": {
        Row: {
          "amount_subtotal": number;
          "amount_total": number;
          "cancel_url": string;
          "checkout_expires_at": string;
          "checkout_session_id": string | null;
          "checkout_url": string | null;
          "created_at": string;
          "currency": string;
          "email": string | null;
          "id": string;
          "idempotency_key": string;
          "needs_review": boolean;
          "paid_at": string | null;
          "payment_intent_id": string | null;
          "promotion_code": string | null;
          "request_fingerprint": string;
          "review_reason": string | null;
          "scope": string;
          "status": string;
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
          "checkout_expires_at": string;
          "checkout_session_id"?: string | null;
          "checkout_url"?: string | null;
          "created_at"?: string;
          "currency": string;
          "email"?: string | null;
          "id"?: string;
          "idempotency_key": string;
          "needs_review"?: boolean;
          "paid_at"?: string | null;
          "payment_intent_id"?: string | null;
          "promotion_code"?: string | null;
          "request_fingerprint": string;
          "review_reason"?: string | null;
          "scope": string;
          "status"?: string;
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
          "checkout_expires_at"?: string;
          "checkout_session_id"?: string | null;
          "checkout_url"?: string | null;
          "created_at"?: string;
          "currency"?: string;
          "email"?: string | null;
          "id"?: string;
          "idempotency_key"?: string;
          "needs_review"?: boolean;
          "paid_at"?: string | null;
          "payment_intent_id"?: string | null;
          "promotion_code"?: string | null;
          "request_fingerprint"?: string;
          "review_reason"?: string | null;
          "scope"?: string;
          "status"?: string;
          "stock_released_at"?: string | null;
          "stripe_customer_id"?: string | null;
          "success_url"?: string;
          "updated_at"?: string;
          "user_id"?: string | null;
        };
        Relationships: [];
      };
      "outbox": {
        Row: {
          "attempts": number;
          "available_at": string;
          "created_at": string;
          "dedupe_key": string;
          "id": number;
          "last_error": string | null;
          "lease_token": string | null;
          "locked_until": string | null;
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
          "available_at"?: string;
          "created_at"?: string;
          "dedupe_key": string;
          "id"?: never;
          "last_error"?: string | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
          "order_id"?: string | null;
          "payload"?: NonNullable<Json>;
          "processed_at"?: string | null;
          "source_event_id"?: string | null;
          "status"?: string;
          "topic": string;
        };
        Update: {
          "attempts"?: number;
          "available_at"?: string;
          "created_at"?: string;
          "dedupe_key"?: string;
          "id"?: never;
          "last_error"?: string | null;
          "lease_token"?: string | null;
          "locked_until"?: string | null;
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
      "apply_stripe_event": {
        Args: { "p_event": Json };
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
          "p_email"?: string;
          "p_idempotency_key": string;
          "p_items": Json;
          "p_lease_seconds"?: number;
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
        Args: { "p_lease_seconds"?: number; "p_limit"?: number };
        Returns: {
          "attempts": number;
          "available_at": string;
          "created_at": string;
          "dedupe_key": string;
          "id": number;
          "last_error": string | null;
          "lease_token": string | null;
          "locked_until": string | null;
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
        Returns: boolean;
      };
      "complete_outbox": {
        Args: {
          "p_error"?: string;
          "p_id": number;
          "p_lease_token": string;
          "p_max_attempts"?: number;
        };
        Returns: boolean;
      };
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
        Returns: boolean;
      };
      "fail_stripe_idempotency": {
        Args: {
          "p_error": Json;
          "p_lease_token": string;
          "p_operation_id": string;
          "p_operation_type": string;
        };
        Returns: boolean;
      };
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
      "order_snapshot": { Args: { "p_order_id": string }; Returns: Json };
      "order_status_by_session": { Args: { "p_session_id": string }; Returns: string };
      "order_transition_allowed": { Args: { "p_from": string; "p_to": string }; Returns: boolean };
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
        Returns: boolean;
      };
      "record_customer": {
        Args: {
          "p_stripe_customer_id": string;
          "p_stripe_lease_token": string;
          "p_user_id": string;
        };
        Returns: string;
      };
      "record_stripe_idempotency": {
        Args: {
          "p_lease_token": string;
          "p_metadata"?: Json;
          "p_operation_id": string;
          "p_operation_type": string;
          "p_stripe_resource_id": string;
        };
        Returns: boolean;
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
        Returns: boolean;
      };
      "refund_paid_order": {
        Args: { "p_charge": Json; "p_event_id": string; "p_order_id": string };
        Returns: string;
      };
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
        Returns: boolean;
      };
      "release_idempotency_key": {
        Args: { "p_key": string; "p_lease_token": string; "p_scope": string };
        Returns: boolean;
      };
      "release_order_stock": { Args: { "p_order_id": string }; Returns: boolean };
      "release_stripe_idempotency": {
        Args: {
          "p_error": Json;
          "p_lease_token": string;
          "p_operation_id": string;
          "p_operation_type": string;
          "p_rekey"?: boolean;
        };
        Returns: boolean;
      };
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
      "customer_begin": {
        "outcome": string | null;
        "stripe_customer_id": string | null;
        "stripe_idempotency_key": string | null;
        "stripe_lease_token": string | null;
        "email": string | null;
        "retry_after_seconds": number | null;
      };
      "idempotency_claim": {
        "outcome": string | null;
        "lease_token": string | null;
        "response_status": number | null;
        "response_body": Json | null;
        "retry_after_seconds": number | null;
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
