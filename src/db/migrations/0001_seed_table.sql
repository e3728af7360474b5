-- The seed's table and its four indexes, exactly as its Python manager created them.
-- IF NOT EXISTS: a table that manager already made is adopted with its rows intact.
CREATE TABLE IF NOT EXISTS {{table}} (
    session_id VARCHAR(255) PRIMARY KEY,
    session_data JSONB NOT NULL,
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    last_updated TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP WITH TIME ZONE,
    version INTEGER DEFAULT 1,
    is_active BOOLEAN DEFAULT TRUE
);
CREATE INDEX IF NOT EXISTS idx_{{table}}_last_updated ON {{table}} (last_updated);
CREATE INDEX IF NOT EXISTS idx_{{table}}_created_at ON {{table}} (created_at);
CREATE INDEX IF NOT EXISTS idx_{{table}}_is_active ON {{table}} (is_active);
CREATE INDEX IF NOT EXISTS idx_{{table}}_expires_at ON {{table}} (expires_at);
