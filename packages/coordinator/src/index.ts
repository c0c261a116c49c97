/**
 * @rendermesh/coordinator — see ../../../shared DESIGN "Roles and layout".
 */
export {};
