export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  // Allows to automatically instantiate createClient with right options
  // instead of createClient<Database, { PostgrestVersion: 'XX' }>(URL, KEY)
  __InternalSupabase: {
    PostgrestVersion: "12"
  }
  public: {
    Tables: {
      accounts: {
        Row: {
          access_token: string | null
          created_at: string
          expires_at: number | null
          id: string
          id_token: string | null
          provider: string
          provider_account_id: string
          refresh_token: string | null
          scope: string | null
          session_state: string | null
          token_type: string | null
          type: string
          updated_at: string
          user_id: string
        }
        Insert: {
          access_token?: string | null
          created_at?: string
          expires_at?: number | null
          id?: string
          id_token?: string | null
          provider: string
          provider_account_id: string
          refresh_token?: string | null
          scope?: string | null
          session_state?: string | null
          token_type?: string | null
          type: string
          updated_at?: string
          user_id: string
        }
        Update: {
          access_token?: string | null
          created_at?: string
          expires_at?: number | null
          id?: string
          id_token?: string | null
          provider?: string
          provider_account_id?: string
          refresh_token?: string | null
          scope?: string | null
          session_state?: string | null
          token_type?: string | null
          type?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "accounts_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      api_usage: {
        Row: {
          cost_usd: number
          endpoint: string | null
          generation_id: string | null
          id: string
          input_tokens: number
          latency_ms: number | null
          model: string
          occurred_at: string
          output_tokens: number
          project_id: string | null
          provider: string
          status_code: number | null
          user_id: string
        }
        Insert: {
          cost_usd?: number
          endpoint?: string | null
          generation_id?: string | null
          id?: string
          input_tokens?: number
          latency_ms?: number | null
          model: string
          occurred_at?: string
          output_tokens?: number
          project_id?: string | null
          provider: string
          status_code?: number | null
          user_id: string
        }
        Update: {
          cost_usd?: number
          endpoint?: string | null
          generation_id?: string | null
          id?: string
          input_tokens?: number
          latency_ms?: number | null
          model?: string
          occurred_at?: string
          output_tokens?: number
          project_id?: string | null
          provider?: string
          status_code?: number | null
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "api_usage_generation_id_fkey"
            columns: ["generation_id"]
            referencedRelation: "prompt_generations"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "api_usage_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "api_usage_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      audio_recordings: {
        Row: {
          bucket_id: string
          component_id: string | null
          created_at: string
          duration_ms: number | null
          id: string
          mime_type: string
          owner_id: string
          project_id: string
          sample_rate_hz: number | null
          size_bytes: number
          storage_path: string
          transcript: string | null
          transcript_status: string
          updated_at: string
          user_id: string
        }
        Insert: {
          bucket_id?: string
          component_id?: string | null
          created_at?: string
          duration_ms?: number | null
          id?: string
          mime_type: string
          owner_id?: string
          project_id: string
          sample_rate_hz?: number | null
          size_bytes: number
          storage_path: string
          transcript?: string | null
          transcript_status?: string
          updated_at?: string
          user_id: string
        }
        Update: {
          bucket_id?: string
          component_id?: string | null
          created_at?: string
          duration_ms?: number | null
          id?: string
          mime_type?: string
          owner_id?: string
          project_id?: string
          sample_rate_hz?: number | null
          size_bytes?: number
          storage_path?: string
          transcript?: string | null
          transcript_status?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "audio_recordings_component_fkey"
            columns: ["project_id", "component_id"]
            referencedRelation: "project_components"
            referencedColumns: ["project_id", "id"]
          },
          {
            foreignKeyName: "audio_recordings_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "audio_recordings_project_owner_fkey"
            columns: ["project_id", "owner_id"]
            referencedRelation: "projects"
            referencedColumns: ["id", "owner_id"]
          },
          {
            foreignKeyName: "audio_recordings_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      collaborators: {
        Row: {
          accepted_at: string | null
          created_at: string
          id: string
          invited_at: string
          invited_by: string | null
          invited_email: string
          project_id: string
          role: string
          updated_at: string
          user_id: string | null
        }
        Insert: {
          accepted_at?: string | null
          created_at?: string
          id?: string
          invited_at?: string
          invited_by?: string | null
          invited_email: string
          project_id: string
          role?: string
          updated_at?: string
          user_id?: string | null
        }
        Update: {
          accepted_at?: string | null
          created_at?: string
          id?: string
          invited_at?: string
          invited_by?: string | null
          invited_email?: string
          project_id?: string
          role?: string
          updated_at?: string
          user_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "collaborators_invited_by_fkey"
            columns: ["invited_by"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "collaborators_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "collaborators_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      error_logs: {
        Row: {
          context: NonNullable<Json>
          error_code: string | null
          id: string
          message: string
          occurred_at: string
          request_id: string | null
          severity: string
          source: string
          stack: string | null
          user_id: string | null
        }
        Insert: {
          context?: NonNullable<Json>
          error_code?: string | null
          id?: string
          message: string
          occurred_at?: string
          request_id?: string | null
          severity: string
          source: string
          stack?: string | null
          user_id?: string | null
        }
        Update: {
          context?: NonNullable<Json>
          error_code?: string | null
          id?: string
          message?: string
          occurred_at?: string
          request_id?: string | null
          severity?: string
          source?: string
          stack?: string | null
          user_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "error_logs_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      performance_metrics: {
        Row: {
          id: string
          metric: string
          occurred_at: string
          tags: NonNullable<Json>
          unit: string
          user_id: string | null
          value: number
        }
        Insert: {
          id?: string
          metric: string
          occurred_at?: string
          tags?: NonNullable<Json>
          unit: string
          user_id?: string | null
          value: number
        }
        Update: {
          id?: string
          metric?: string
          occurred_at?: string
          tags?: NonNullable<Json>
          unit?: string
          user_id?: string | null
          value?: number
        }
        Relationships: []
      }
      project_components: {
        Row: {
          content: NonNullable<Json>
          created_at: string
          height: number
          id: string
          owner_id: string
          parent_id: string | null
          position_x: number
          position_y: number
          project_id: string
          type: string
          updated_at: string
          width: number
          z_index: number
        }
        Insert: {
          content?: NonNullable<Json>
          created_at?: string
          height?: number
          id?: string
          owner_id?: string
          parent_id?: string | null
          position_x?: number
          position_y?: number
          project_id: string
          type: string
          updated_at?: string
          width?: number
          z_index?: number
        }
        Update: {
          content?: NonNullable<Json>
          created_at?: string
          height?: number
          id?: string
          owner_id?: string
          parent_id?: string | null
          position_x?: number
          position_y?: number
          project_id?: string
          type?: string
          updated_at?: string
          width?: number
          z_index?: number
        }
        Relationships: [
          {
            foreignKeyName: "project_components_parent_fkey"
            columns: ["project_id", "parent_id"]
            referencedRelation: "project_components"
            referencedColumns: ["project_id", "id"]
          },
          {
            foreignKeyName: "project_components_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "project_components_project_owner_fkey"
            columns: ["project_id", "owner_id"]
            referencedRelation: "projects"
            referencedColumns: ["id", "owner_id"]
          },
        ]
      }
      project_transfers: {
        Row: {
          expires_at: string
          id: string
          offered_at: string
          offered_by: string
          project_id: string
          recipient_email: string
        }
        Insert: {
          expires_at?: string
          id?: string
          offered_at?: string
          offered_by: string
          project_id: string
          recipient_email: string
        }
        Update: {
          expires_at?: string
          id?: string
          offered_at?: string
          offered_by?: string
          project_id?: string
          recipient_email?: string
        }
        Relationships: [
          {
            foreignKeyName: "project_transfers_offered_by_fkey"
            columns: ["offered_by"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "project_transfers_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
        ]
      }
      projects: {
        Row: {
          created_at: string
          deleted_at: string | null
          description: string | null
          id: string
          layout: NonNullable<Json>
          name: string
          owner_id: string
          settings: NonNullable<Json>
          updated_at: string
          version: number
        }
        Insert: {
          created_at?: string
          deleted_at?: string | null
          description?: string | null
          id?: string
          layout?: NonNullable<Json>
          name: string
          owner_id: string
          settings?: NonNullable<Json>
          updated_at?: string
          version?: number
        }
        Update: {
          created_at?: string
          deleted_at?: string | null
          description?: string | null
          id?: string
          layout?: NonNullable<Json>
          name?: string
          owner_id?: string
          settings?: NonNullable<Json>
          updated_at?: string
          version?: number
        }
        Relationships: [
          {
            foreignKeyName: "projects_owner_id_fkey"
            columns: ["owner_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      prompt_generations: {
        Row: {
          completed_at: string | null
          cost_usd: number
          created_at: string
          error_message: string | null
          id: string
          input_snapshot: NonNullable<Json>
          input_tokens: number
          latency_ms: number | null
          model: string
          output: string | null
          output_tokens: number
          owner_id: string
          project_id: string
          status: string
          user_id: string
        }
        Insert: {
          completed_at?: string | null
          cost_usd?: number
          created_at?: string
          error_message?: string | null
          id?: string
          input_snapshot: NonNullable<Json>
          input_tokens?: number
          latency_ms?: number | null
          model: string
          output?: string | null
          output_tokens?: number
          owner_id?: string
          project_id: string
          status?: string
          user_id: string
        }
        Update: {
          completed_at?: string | null
          cost_usd?: number
          created_at?: string
          error_message?: string | null
          id?: string
          input_snapshot?: NonNullable<Json>
          input_tokens?: number
          latency_ms?: number | null
          model?: string
          output?: string | null
          output_tokens?: number
          owner_id?: string
          project_id?: string
          status?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "prompt_generations_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "prompt_generations_project_owner_fkey"
            columns: ["project_id", "owner_id"]
            referencedRelation: "projects"
            referencedColumns: ["id", "owner_id"]
          },
          {
            foreignKeyName: "prompt_generations_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      sessions: {
        Row: {
          created_at: string
          expires: string
          id: string
          session_token_hash: string
          user_id: string
        }
        Insert: {
          created_at?: string
          expires: string
          id?: string
          session_token_hash: string
          user_id: string
        }
        Update: {
          created_at?: string
          expires?: string
          id?: string
          session_token_hash?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "sessions_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      user_activity: {
        Row: {
          action: string
          id: string
          metadata: NonNullable<Json>
          occurred_at: string
          project_id: string | null
          user_id: string
        }
        Insert: {
          action: string
          id?: string
          metadata?: NonNullable<Json>
          occurred_at?: string
          project_id?: string | null
          user_id: string
        }
        Update: {
          action?: string
          id?: string
          metadata?: NonNullable<Json>
          occurred_at?: string
          project_id?: string | null
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "user_activity_project_id_fkey"
            columns: ["project_id"]
            referencedRelation: "projects"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "user_activity_user_id_fkey"
            columns: ["user_id"]
            referencedRelation: "users"
            referencedColumns: ["id"]
          },
        ]
      }
      users: {
        Row: {
          created_at: string
          display_name: string | null
          email: string
          email_verified: string | null
          id: string
          image: string | null
          last_seen_at: string | null
          name: string | null
          plan: string
          settings: NonNullable<Json>
          updated_at: string
        }
        Insert: {
          created_at?: string
          display_name?: string | null
          email: string
          email_verified?: string | null
          id?: string
          image?: string | null
          last_seen_at?: string | null
          name?: string | null
          plan?: string
          settings?: NonNullable<Json>
          updated_at?: string
        }
        Update: {
          created_at?: string
          display_name?: string | null
          email?: string
          email_verified?: string | null
          id?: string
          image?: string | null
          last_seen_at?: string | null
          name?: string | null
          plan?: string
          settings?: NonNullable<Json>
          updated_at?: string
        }
        Relationships: []
      }
      verification_tokens: {
        Row: {
          created_at: string
          expires: string
          id: string
          identifier: string
          token_hash: string
        }
        Insert: {
          created_at?: string
          expires: string
          id?: string
          identifier: string
          token_hash: string
        }
        Update: {
          created_at?: string
          expires?: string
          id?: string
          identifier?: string
          token_hash?: string
        }
        Relationships: []
      }
    }
    Views: {
      [_ in never]: never
    }
    Functions: {
      accept_invitation: { Args: { p_project_id: string }; Returns: string }
      accept_project_transfer: {
        Args: { p_project_id: string }
        Returns: undefined
      }
      analytics_partitioned_tables: {
        Args: Record<PropertyKey, never>
        Returns: string[]
      }
      assert_acting_user: { Args: { p_user_id: string }; Returns: undefined }
      check_project_quota: {
        Args: { p_max: number; p_user_id: string }
        Returns: boolean
      }
      cleanup_analytics_partitions: {
        Args: Record<PropertyKey, never>
        Returns: string[]
      }
      cleanup_expired_auth: {
        Args: Record<PropertyKey, never>
        Returns: {
          sessions_removed: number
          verification_tokens_removed: number
        }[]
      }
      create_monthly_partitions: {
        Args: { p_from?: string; p_months_ahead?: number; p_table: string }
        Returns: string[]
      }
      drop_old_partitions: {
        Args: { p_retention: string; p_table: string }
        Returns: string[]
      }
      duplicate_project: {
        Args: { p_name: string; p_source_id: string; p_user_id: string }
        Returns: string
      }
      get_monthly_api_costs: {
        Args: { p_month: string; p_user_id: string }
        Returns: {
          calls: number
          cost_usd: number
          input_tokens: number
          model: string
          output_tokens: number
          provider: string
        }[]
      }
      get_user_project_stats: {
        Args: { p_user_id: string }
        Returns: {
          active_projects: number
          audio_recordings: number
          components: number
          deleted_projects: number
          last_project_update: string
          prompt_generations: number
          total_cost_usd: number
        }[]
      }
      log_error: {
        Args: {
          p_context?: Json
          p_error_code?: string
          p_message: string
          p_request_id?: string
          p_severity: string
          p_source: string
          p_stack?: string
        }
        Returns: string
      }
      offer_project_transfer: {
        Args: { p_project_id: string; p_recipient_email: string }
        Returns: string
      }
      plan_project_limit: { Args: { p_plan: string }; Returns: number }
      plan_storage_limit: { Args: { p_plan: string }; Returns: number }
      purge_deleted_projects: { Args: { p_grace?: string }; Returns: string[] }
      record_metric: {
        Args: {
          p_metric: string
          p_tags?: Json
          p_unit: string
          p_value: number
        }
        Returns: string
      }
      restore_project: { Args: { p_project_id: string }; Returns: undefined }
      seal_partition: { Args: { p_partition: string }; Returns: undefined }
      soft_delete_project: {
        Args: { p_project_id: string; p_user_id: string }
        Returns: string
      }
      sweep_default_partition: {
        Args: { p_retention: string; p_table: string }
        Returns: {
          action: string
          partition_name: string
          row_count: number
        }[]
      }
    }
    Enums: {
      [_ in never]: never
    }
    CompositeTypes: {
      [_ in never]: never
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {},
  },
} as const
