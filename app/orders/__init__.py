"""Client orders (pedidos): types as data, the client's and the office's actions, attachment
checks by content and the work of ``processar-pedidos``."""
