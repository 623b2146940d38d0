"""Provider adapters: one per SMS provider behind one small interface."""
