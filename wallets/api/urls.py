from django.urls import path

from wallets.api import views

urlpatterns = [
    path("balances", views.BalancesView.as_view(), name="api-balances"),
    path("ledger", views.LedgerView.as_view(), name="api-ledger"),
    path("deposit-address", views.DepositAddressView.as_view(), name="api-deposit-address"),
    path("deposits", views.DepositsView.as_view(), name="api-deposits"),
    path("deposits/simulate", views.DepositSimulateView.as_view(),
         name="api-deposit-simulate"),
    path("withdrawals", views.WithdrawalsView.as_view(), name="api-withdrawals"),
    path("withdrawals/<int:withdrawal_id>/cancel", views.WithdrawalCancelView.as_view(),
         name="api-withdrawal-cancel"),
    path("withdrawal-addresses", views.AddressBookView.as_view(),
         name="api-withdrawal-addresses"),
    path("withdrawal-addresses/<int:address_id>", views.AddressBookEntryView.as_view(),
         name="api-withdrawal-address"),
]
