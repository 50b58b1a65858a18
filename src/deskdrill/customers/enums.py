from enum import StrEnum


class PartyKind(StrEnum):
    consumer = "consumer"
    passenger = "passenger"
    driver = "driver"
    merchant = "merchant"
    courier = "courier"


class OrderKind(StrEnum):
    goods = "goods"
    food = "food"
    ride = "ride"


class OrderStatus(StrEnum):
    placed = "placed"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    completed = "completed"
    cancelled = "cancelled"
    returned = "returned"
