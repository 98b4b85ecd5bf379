"""Instance catalogs and prices: the bundled, versioned snapshot (pricing/data/) and live price sources per cloud."""
