-- Roles are a fixed lookup (Zammad's ids): 1 Admin, 2 Agent, 3 Customer.
INSERT INTO `roles` (`id`, `name`) VALUES (1, 'Admin'), (2, 'Agent'), (3, 'Customer');
